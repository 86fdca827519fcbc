"""``python train.py --config wavlm.yaml``: the design card's command, from any working directory.

The command runs in this process (``train.run``, what ``python train.py`` runs) from another working
directory; tests/test_packaging.py runs the installed ``ser-train --print_config`` from one too.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.in_process import run_command

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def _train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture):
    """``train.run(args)`` from ``tmp_path`` as working directory; its exit status and output."""
    from training import command as train

    return lambda *args: run_command(train.run, list(args), capfd, monkeypatch, cwd=tmp_path)


def test_bare_config_name_is_found_in_configs_and_reported(_train) -> None:
    done = _train("--config", "wavlm.yaml", "--print_config")
    assert done.returncode == 0, done.stderr
    assert f"config: {ROOT / 'configs' / 'wavlm.yaml'}" in done.stderr
    assert "model_name: microsoft/wavlm-base-plus" in done.stdout


def test_unknown_config_name_lists_the_configs_there_are(_train) -> None:
    done = _train("--config", "wavlmm.yaml")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert "--config wavlmm.yaml: no such file" in lines[0] and "demo, efficientnet_b5, hubert" in lines[0]


def test_bare_name_falls_back_to_the_working_directorys_configs(tmp_path: Path, monkeypatch) -> None:
    """Code installed elsewhere (its configs/ lacks the name): the working directory's configs/ is tried next."""
    from training.config_files import resolve_config_name

    installed = tmp_path / "installed" / "configs"
    installed.mkdir(parents=True)
    (installed / "demo.yaml").write_text("seed_everything: 1\n")
    own = tmp_path / "project" / "configs"
    own.mkdir(parents=True)
    (own / "demo.yaml").write_text("seed_everything: 2\n")
    (own / "mine.yaml").write_text("seed_everything: 3\n")
    monkeypatch.chdir(tmp_path / "project")
    assert resolve_config_name("demo", installed) == str(installed / "demo.yaml")  # the code's own configs/ first
    assert Path(resolve_config_name("mine", installed)).resolve() == (own / "mine.yaml").resolve()
