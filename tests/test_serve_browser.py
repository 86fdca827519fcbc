"""The web page in real headless Chromium: upload garbage, then a recording; compare with predict.py.

Needs Debian's chromium and chromium-driver (scripts/setup_system.sh installs them); skipped
with that reason when they are missing. The screenshot is left in the test's tmp folder
(path printed) and, when SER_SCREENSHOT_DIR is set, copied there.
"""
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from prediction import command as predict
from serving import command as serve
from tests.shard_factory import synth_clip
from tests.trained_models import session_base, trained_checkpoint

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
pytestmark = [
    pytest.mark.browser, pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="Debian chromium + chromium-driver not installed (scripts/setup_system.sh)"),
]
SR = 16_000
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--window-size=1200,1300"]


@pytest.fixture()
def page_server(tmp_path_factory):
    checkpoint = trained_checkpoint(session_base(tmp_path_factory), "small_cnn")
    httpd = serve.build_server(["--model", str(checkpoint), "--port", "0", "--device", "cpu"])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, checkpoint
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture()
def browser(tmp_path):
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def badges(element):
    from selenium.webdriver.common.by import By

    return [(b.get_attribute("data-label"), float(b.get_attribute("data-probability")), b.get_attribute("class"))
            for b in element.find_elements(By.CSS_SELECTOR, ".badge")]


def colour(probability):
    return "high" if probability > 0.8 else "mid" if probability >= 0.6 else "low"


def test_upload_play_and_compare_with_predict(page_server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    httpd, checkpoint = page_server
    rng = np.random.default_rng(7)
    recording = tmp_path / "speech sample.wav"
    sf.write(recording, np.concatenate([synth_clip(c, 4, s, rng) for c, s in ((0, 5), (2, 5), (3, 2.5))]), SR)
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 20)
    predict.main(["--model", str(checkpoint), "--inputs", str(recording),
                  "--output_dir", str(tmp_path / "pred"), "--device", "cpu"])
    reference = json.loads((tmp_path / "pred" / "predictions.json").read_text())["recordings"][0]["segments"]

    wait = WebDriverWait(browser, 60)
    browser.get(httpd.url)
    wait.until(lambda d: d.find_element(By.ID, "model-info").text.startswith("Emotions: class0"))

    browser.find_element(By.ID, "file").send_keys(str(garbage))
    browser.find_element(By.ID, "analyse").click()
    error = wait.until(lambda d: d.find_element(By.ID, "error") if d.find_element(By.ID, "error").is_displayed() else None)
    assert error.text.startswith("garbage.mp3: unreadable")

    browser.find_element(By.ID, "file").send_keys(str(recording))
    browser.find_element(By.ID, "analyse").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#segment-rows tr")) == len(reference))
    assert not browser.find_element(By.ID, "error").is_displayed()
    rows = browser.find_elements(By.CSS_SELECTOR, "#segment-rows tr")
    for row, expected in zip(rows, reference):
        shown = badges(row)
        assert [label for label, _, _ in shown] == [entry["label"] for entry in expected["top"]]
        assert [p for _, p, _ in shown] == pytest.approx([e["probability"] for e in expected["top"]], abs=1e-6)
        assert [css.split()[-1] for _, p, css in shown] == [colour(p) for _, p, _ in shown]
    # The page's own colour rule, at the thresholds (this tiny model is rarely confident enough for green).
    assert browser.execute_script("return [0.81, 0.8, 0.6, 0.59].map(confidenceClass)") == ["high", "mid", "mid", "low"]
    assert rows[2].find_elements(By.TAG_NAME, "td")[1].text == "0:10.0 – 0:12.5"

    # Playback: the audio element plays the upload, and the "now playing" panel follows the position.
    browser.execute_script("document.getElementById('audio').play()")
    wait.until(lambda d: d.execute_script("return document.getElementById('audio').currentTime") > 0.2)
    browser.execute_script("const a = document.getElementById('audio'); a.pause(); a.currentTime = 6.0;")
    wait.until(lambda d: d.find_element(By.ID, "current-index").text == "2")
    current = [label for label, _, _ in badges(browser.find_element(By.ID, "current-top"))]
    assert current == [entry["label"] for entry in reference[1]["top"]]
    assert "active" in rows[1].get_attribute("class")
    drawn = browser.execute_script(
        "const c = document.getElementById('waveform'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;")
    assert drawn > 5_000  # the waveform and the segment marks are on the canvas

    screenshot = tmp_path / "serve_page.png"
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")
    if os.environ.get("SER_SCREENSHOT_DIR"):
        shutil.copy(screenshot, Path(os.environ["SER_SCREENSHOT_DIR"]) / screenshot.name)
