// The page's logic: upload, draw the waveform, follow playback with the current segment's top three.
"use strict";

const state = { info: null, result: null, file: null, active: -1 };
const $ = (id) => document.getElementById(id);

function confidenceClass(p) {
  // Seed 000's colours: green above 80 %, orange 60-80 %, red below 60 %.
  if (p > 0.8) return "high";
  if (p >= 0.6) return "mid";
  return "low";
}

function percent(p) { return (100 * p).toFixed(1) + "%"; }

function badge(entry) {
  const span = document.createElement("span");
  span.className = "badge " + confidenceClass(entry.probability);
  span.dataset.label = entry.label;
  span.dataset.probability = String(entry.probability);
  span.textContent = entry.label + " " + percent(entry.probability);
  return span;
}

function timeText(seconds) {
  const m = Math.floor(seconds / 60);
  const s = (seconds - 60 * m).toFixed(1).padStart(4, "0");
  return m + ":" + s;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function loadInfo() {
  try {
    const response = await fetch("/api/info");
    state.info = await response.json();
    const limits = state.info.limits;
    $("model-info").textContent = "Emotions: " + state.info.class_names.join(", ") +
      " · segments of " + state.info.segment.length + " s · files up to " +
      Math.round(limits.max_bytes / 1048576) + " MB and " + Math.round(limits.max_seconds) + " s";
    $("file").accept = state.info.allowed_types.join(",");
  } catch (error) {
    $("model-info").textContent = "Could not reach the server: " + error;
  }
}

function clientCheck(file) {
  if (!file) return "Choose a recording first.";
  if (!state.info) return null;
  const suffix = file.name.includes(".") ? file.name.slice(file.name.lastIndexOf(".")).toLowerCase() : "";
  if (!state.info.allowed_types.includes(suffix)) {
    return file.name + ": type " + (suffix || "(none)") + " is not accepted; use one of " + state.info.allowed_types.join(", ");
  }
  if (file.size > state.info.limits.max_bytes) {
    return file.name + ": " + (file.size / 1048576).toFixed(1) + " MB is over the limit of " +
      Math.round(state.info.limits.max_bytes / 1048576) + " MB";
  }
  return null;
}

async function analyse() {
  const file = $("file").files[0];
  showError("");
  const problem = clientCheck(file);
  if (problem) { showError(problem); return; }
  $("analyse").disabled = true;
  $("status").textContent = "Analysing " + file.name + "…";
  try {
    const response = await fetch("/api/predict", {
      method: "POST", body: file,
      headers: { "X-Filename": encodeURIComponent(file.name), "Content-Type": "application/octet-stream" },
    });
    const data = await response.json();
    if (!response.ok) { showError(data.error || ("HTTP " + response.status)); $("status").textContent = ""; return; }
    state.file = file;
    state.result = data;
    render();
    $("status").textContent = data.segments.length + " segments, " + data.duration.toFixed(1) + " s";
  } catch (error) {
    showError("The upload failed: " + error);
    $("status").textContent = "";
  } finally {
    $("analyse").disabled = false;
  }
}

function render() {
  const result = state.result;
  $("filename").textContent = result.filename;
  const audio = $("audio");
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(state.file);
  const rows = $("segment-rows");
  rows.replaceChildren();
  result.segments.forEach((segment, index) => {
    const row = document.createElement("tr");
    row.dataset.index = String(index);
    const cells = [String(index + 1), timeText(segment.start) + " – " + timeText(segment.end)];
    cells.forEach((text) => { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); });
    segment.top.slice(0, 3).forEach((entry) => { const td = document.createElement("td"); td.appendChild(badge(entry)); row.appendChild(td); });
    row.addEventListener("click", () => { audio.currentTime = segment.start + 0.001; update(); });
    rows.appendChild(row);
  });
  $("player").hidden = false;
  $("segments").hidden = false;
  state.active = -1;
  update();
}

function segmentAt(t) {
  // The latest-starting segment that contains t (segments overlap when the hop is shorter than the length).
  const segments = state.result.segments;
  let found = 0;
  segments.forEach((segment, index) => { if (segment.start <= t && t < segment.end) found = index; });
  if (t >= segments[segments.length - 1].end) found = segments.length - 1;
  return found;
}

function update() {
  if (!state.result) return;
  const t = $("audio").currentTime || 0;
  const index = segmentAt(t);
  if (index !== state.active) {
    state.active = index;
    const segment = state.result.segments[index];
    $("current-index").textContent = String(index + 1);
    $("current-range").textContent = "(" + timeText(segment.start) + " – " + timeText(segment.end) + ")";
    const list = $("current-top");
    list.replaceChildren();
    segment.top.slice(0, 3).forEach((entry) => { const li = document.createElement("li"); li.appendChild(badge(entry)); list.appendChild(li); });
    document.querySelectorAll("#segment-rows tr").forEach((row) => row.classList.toggle("active", Number(row.dataset.index) === index));
  }
  draw(t);
}

function draw(t) {
  const canvas = $("waveform");
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  const result = state.result;
  context.clearRect(0, 0, width, height);
  const segment = result.segments[state.active];
  const x = (seconds) => (seconds / result.duration) * width;
  if (segment) {
    context.fillStyle = "rgba(45, 108, 223, 0.10)";
    context.fillRect(x(segment.start), 0, x(segment.end) - x(segment.start), height);
  }
  context.strokeStyle = "#c9cfe0";
  result.segments.forEach((s) => { context.beginPath(); context.moveTo(x(s.start), 0); context.lineTo(x(s.start), height); context.stroke(); });
  const envelope = result.waveform;
  const middle = height / 2;
  const scale = Math.max(1e-6, ...envelope.map(([low, high]) => Math.max(-low, high)));
  context.fillStyle = "#2d6cdf";
  const step = width / envelope.length;
  envelope.forEach(([low, high], i) => {
    const top = middle - (high / scale) * (middle - 4);
    const bottom = middle - (low / scale) * (middle - 4);
    context.fillRect(i * step, top, Math.max(1, step), Math.max(1, bottom - top));
  });
  context.fillStyle = "#c5221f";
  context.fillRect(x(t) - 1, 0, 2, height);
}

function tick() { update(); if (!$("audio").paused) requestAnimationFrame(tick); }

$("analyse").addEventListener("click", analyse);
$("audio").addEventListener("timeupdate", update);
$("audio").addEventListener("seeked", update);
$("audio").addEventListener("play", () => requestAnimationFrame(tick));
$("waveform").addEventListener("click", (event) => {
  if (!state.result) return;
  const box = event.target.getBoundingClientRect();
  $("audio").currentTime = ((event.clientX - box.left) / box.width) * state.result.duration;
  update();
});
loadInfo();
