"""Mistakes a user makes, each answered with one line and exit status 2 instead of a traceback
(issue 17): a truncated checkpoint in every command that loads one, serve.py on a port in use, a
fold whose training fails inside cross_validate.py, predict.py on a text file named .wav; and
serve.py's answer to a Content-Length of 10^20 says it is too large.

The commands run in-process through the same ``run`` their scripts call, so the exit status is the
real one without a fresh interpreter per case; the failed fold's train.py is the one subprocess
(cross_validate.py itself starts it).
"""
from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.trained_models import NETWORKS, session_base, shared_dataset, trained_checkpoint
from tests.tiny_train_config import DEBUG_CPU

REPO = Path(__file__).resolve().parents[1]


def exit_status(run, argv: list[str]) -> int:
    """The status ``run(argv)`` exits with (a command's ``run`` always ends in SystemExit)."""
    with pytest.raises(SystemExit) as stopped:
        run(argv)
    return stopped.value.code


def only_error_line(text: str, marker: str) -> str:
    """The one line of ``text`` holding ``marker``; fails on a traceback or on none or several such lines."""
    assert "Traceback" not in text, text[-3000:]
    lines = [line for line in text.splitlines() if marker in line]
    assert len(lines) == 1, text[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(session folder, its tiny dataset, a small_cnn checkpoint trained on it: shared with other modules)."""
    base = session_base(tmp_path_factory)
    return base, shared_dataset(base), trained_checkpoint(base, "small_cnn")


def test_a_truncated_checkpoint_is_one_line_and_status_2_in_every_command(trained, tmp_path, capsys, caplog,
                                                                         monkeypatch) -> None:
    from prediction import evaluate_command as evaluate
    from export import command as export
    from prediction import command as predict
    from serving import command as serve
    from training import command as train

    monkeypatch.chdir(REPO)
    base, data, checkpoint = trained
    cut = tmp_path / "last.ckpt"
    cut.write_bytes(checkpoint.read_bytes()[:5000])  # head -c 5000 last.ckpt
    clip = tmp_path / "clip.wav"
    sf.write(clip, np.zeros(16_000, np.float32), 16_000)
    marker = f"{cut}: cannot load the checkpoint: truncated or damaged (5,000 bytes)"
    commands = {
        "predict.py": (predict.run, ["--model", str(cut), "--inputs", str(clip), "--output_dir", str(tmp_path / "p")]),
        "evaluate.py": (evaluate.run, ["--model", str(cut), "--data_root", str(data), "--output_dir", str(tmp_path / "e")]),
        "export_model.py": (export.run, ["--model", str(cut), "--output_dir", str(tmp_path / "x")]),
        "serve.py": (serve.run, ["--model", str(cut), "--port", "0", "--device", "cpu"]),
        "train.py": (train.run, [
            "--config", str(DEBUG_CPU), f"--data.data_root={data}", "--data.batch_size=8", "--data.clip_seconds=1.2",
            "--data.pin_memory=false", f"--model.net={json.dumps(NETWORKS['small_cnn'])}", "--trainer.max_epochs=1",
            "--trainer.logger=false", f"--run.root={tmp_path / 'runs'}", "--run.name=resumed", f"--ckpt_path={cut}"]),
    }
    for name, (run, argv) in commands.items():
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert exit_status(run, argv) == 2, name
        captured = capsys.readouterr()
        said = captured.err + "\n" + "\n".join(r.getMessage() for r in caplog.records)  # predict.py logs its line
        assert "invalid argument" not in only_error_line(said, marker).lower(), (name, said)


def test_serve_on_a_port_in_use_is_one_line_and_status_2(monkeypatch, capsys) -> None:
    from serving import command as serve
    from tests.test_serve_limits import NAMES, BandEnergyModel, ModelPredictor

    monkeypatch.setattr(serve, "load_predictor", lambda path, device="cpu": ModelPredictor(BandEnergyModel(4), NAMES))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert exit_status(serve.run, ["--model", "any.ckpt", "--port", str(port)]) == 2
    line = only_error_line(capsys.readouterr().err, f"--port {port}")
    assert "Address already in use" in line and "choose another --port" in line


@pytest.mark.slow  # a demo-corpus preparation and one train.py subprocess (its imports: 5-15 s)
def test_a_failed_fold_names_the_fold_and_its_log(tmp_path, monkeypatch, capsys) -> None:
    from protocols import command as cross_validate
    from tests.test_cross_validate import write_protocol

    monkeypatch.chdir(REPO)  # train.py is started from the repository root
    config = write_protocol(tmp_path, "tiny-fails")
    status = cross_validate.main(["--config", str(config), "--extra_train_args", '["--model.lr=-1"]'])
    assert status == 2
    log = tmp_path / "runs" / "tiny-fails" / "folds" / "tiny-fails-fold0" / "train.log"
    line = only_error_line(capsys.readouterr().err, "cross_validate: error:")
    assert line.startswith("cross_validate: error: fold 0 (") and "train.py ended with status 2" in line
    assert f"its log: {log}" in line
    assert "model.lr=-1.0: expected a learning rate > 0" in line  # train.py's own error, its last line
    assert "train.py: error: model.lr=-1.0" in log.read_text()  # the log holds what train.py printed


def test_predict_on_a_text_file_named_wav_reports_it_and_exits_2(monkeypatch, tmp_path, caplog) -> None:
    from prediction import command as predict
    from tests.test_predict_streaming import predictor

    monkeypatch.setattr(predict, "load_predictor", lambda path, device="cpu": predictor())
    text = tmp_path / "notes.wav"
    text.write_text("not audio, only a text file with an audio suffix\n" * 20)
    with caplog.at_level(logging.INFO):
        assert exit_status(predict.run, ["--model", "any.ckpt", "--inputs", str(text),
                                         "--output_dir", str(tmp_path / "out")]) == 2
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "unreadable" in only_error_line(said, "notes.wav:") and "real-time factor" not in said
    assert not (tmp_path / "out").exists()  # nothing predicted: no header-only results (issue 23)
    good = tmp_path / "good.wav"
    sf.write(good, np.zeros(16_000, np.float32), 16_000)
    assert exit_status(predict.run, ["--model", "any.ckpt", "--inputs", str(text), str(good),
                                     "--output_dir", str(tmp_path / "out2")]) == 1  # one of two read: as before


def test_a_content_length_of_10_to_the_20_is_too_large() -> None:
    from tests.test_serve_limits import UploadLimits, raw_post, start

    server = start(UploadLimits(max_bytes=2_000_000, max_seconds=30))
    try:
        status, body, elapsed = raw_post(server, str(10**20), b"\0" * 100)
    finally:
        server.shutdown()
        server.server_close()
    assert status == 413 and "too large" in body["error"] and "not a number" not in body["error"]
    assert elapsed < 2.0
