"""The ``<output>.partial`` folder a killed preparation leaves (issue 23): the next run removes it and
says so in one line, also when the output is finished and it has nothing to do; a ``.partial`` that
a running preparation is writing is left alone, and a second preparation into it refuses (exit 2).

The kill is real: ``kill -9`` of ``prepare_data.py --overwrite true`` over a finished output while
it decodes into its ``.partial``, as in the report (the old output stayed intact; the 104 MB
``.partial`` stayed too, behind a rerun that said "nothing to do").
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data_preparation import command as prepare_command
from data_preparation.demo_corpus import generate
from data_preparation.pipeline import OWNER_FILE
from data_preparation.verify import verify

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """96 demo clips: decoding them on one worker takes about a second, time enough to kill the run."""
    root = tmp_path_factory.mktemp("demo") / "corpus"
    generate(root, speakers=6, clips_per_class=4, workers=1, progress=False)
    return root


def argv(corpus: Path, out: Path, *extra: str) -> list[str]:
    return ["--config", "configs/prepare/demo.yaml", "--corpus_root", f"csv={corpus}", "--output", str(out),
            "--workers", "1", *extra]


def prepare(corpus: Path, out: Path, capsys, *extra: str) -> tuple[int, list[str]]:
    """prepare_data.py in this process: (exit status, the lines it wrote to stderr)."""
    capsys.readouterr()
    status = prepare_command.main(argv(corpus, out, *extra))
    return status, capsys.readouterr().err.splitlines()


def lines_with(lines: list[str], text: str) -> list[str]:
    return [line for line in lines if text in line]


def leftover(out: Path, owner_pid: int | None) -> Path:
    """A ``.partial`` beside ``out`` holding 3 MB of half-written shards, written by ``owner_pid``."""
    staging = out.with_name(out.name + ".partial")
    (staging / ".spool").mkdir(parents=True)
    (staging / ".spool" / "000001.flac").write_bytes(b"\0" * 3_000_000)
    if owner_pid is not None:
        (staging / OWNER_FILE).write_text(json.dumps({"pid": owner_pid, "host": socket.gethostname()}))
    return staging


def dead_pid() -> int:
    """The pid of a process that has ended."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


@pytest.mark.slow  # a prepare_data.py subprocess (its imports) killed mid-run
def test_a_rerun_after_kill_9_removes_the_partial_folder_and_says_so(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "prepared"
    assert prepare(corpus, out, capsys)[0] == 0
    stats = (out / "stats.json").read_bytes()
    staging = out.with_name(out.name + ".partial")
    spool = staging / ".spool"
    with open(tmp_path / "killed.log", "w") as log:
        run = subprocess.Popen([sys.executable, "prepare_data.py", *argv(corpus, out, "--overwrite", "true")],
                               cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while not (spool.is_dir() and any(spool.iterdir())):  # decoding into the .partial folder
                assert run.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "no .partial folder after 120 s"
                time.sleep(0.01)
        finally:
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=30)
    assert run.returncode == -signal.SIGKILL and staging.is_dir(), "the run ended before the kill"
    assert (out / "stats.json").read_bytes() == stats  # the old output is intact

    status, said = prepare(corpus, out, capsys)
    assert status == 0 and len(lines_with(said, "nothing to do")) == 1, said
    removed = lines_with(said, str(staging))
    assert len(removed) == 1 and removed[0].startswith(f"removed {staging} (") and \
        removed[0].endswith(" MB), left by a preparation that did not finish"), said
    assert not staging.exists()
    assert (out / "stats.json").read_bytes() == stats and verify(out).problems == []


def test_a_leftover_of_an_ended_run_is_removed_by_a_rerun_with_nothing_to_do(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "prepared"
    assert prepare(corpus, out, capsys)[0] == 0
    for owner in (dead_pid(), None):  # one with its owner's pid; one as runs before owners were written left it
        staging = leftover(out, owner)
        status, said = prepare(corpus, out, capsys)
        assert status == 0 and lines_with(said, "nothing to do"), said
        assert lines_with(said, str(staging)) == [f"removed {staging} (3.0 MB), left by a preparation that did not finish"]
        assert not staging.exists()


def test_a_leftover_of_an_ended_run_is_removed_before_preparing(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "prepared"
    staging = leftover(out, dead_pid())
    status, said = prepare(corpus, out, capsys)
    assert status == 0 and lines_with(said, str(staging)) == [
        f"removed {staging} (3.0 MB), left by a preparation that did not finish"], said
    assert not staging.exists() and verify(out).problems == [] and not (out / OWNER_FILE).exists()


def test_a_partial_folder_a_running_preparation_writes_is_left_alone(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "prepared"
    assert prepare(corpus, out, capsys)[0] == 0
    stats = (out / "stats.json").read_bytes()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        staging = leftover(out, running.pid)
        status, said = prepare(corpus, out, capsys)
        assert status == 0 and lines_with(said, "nothing to do"), said
        assert lines_with(said, str(staging)) == [
            f"{staging} is being written by a running preparation (pid {running.pid} on {socket.gethostname()}); "
            "left alone"]
        status, said = prepare(corpus, out, capsys, "--overwrite", "true")
        assert status == 2 and said == [
            f"prepare_data: error: {staging} is being written by a running preparation (pid {running.pid} on "
            f"{socket.gethostname()}); wait for it to end, or stop it and run again"]
        assert (staging / ".spool" / "000001.flac").stat().st_size == 3_000_000  # nothing of it touched
        assert (out / "stats.json").read_bytes() == stats
    finally:
        running.kill()
        running.wait()
    assert os.path.isdir(staging)
