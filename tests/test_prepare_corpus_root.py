"""``prepare_data.py --corpus_root NAME=FOLDER`` points a shipped preparation config at one's own copy,
and a corpus list typed on the command line replaces the config's list instead of merging into it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_preparation import command as prepare_data
from data_preparation import pipeline
from data_preparation.config import parse_config
from tests.corpus_fixtures import downloads as D

ROOT = Path(__file__).resolve().parents[1]
SEED000 = str(ROOT / "configs" / "prepare" / "seed000.yaml")


def test_corpus_root_relocates_only_the_named_corpora() -> None:
    config = parse_config(["--config", SEED000, "--corpus_root", "ravdess=/data/RAVDESS",
                           "--corpus_root", "tess=/data/TESS"])
    roots = {c.name: c.root for c in config.corpora}
    assert roots["ravdess"] == "/data/RAVDESS" and roots["tess"] == "/data/TESS"
    assert roots["crema_d"] == "data/corpora/CREMA-D"  # the others as the config says
    assert next(c for c in config.corpora if c.name == "esd").options == {"speakers": "english"}


@pytest.mark.parametrize("flag, message", [
    ("emodb=/data/EmoDB", "--corpus_root emodb=...: the config reads no corpus 'emodb'; its corpora: crema_d, meld"),
    ("ravdess", "--corpus_root 'ravdess': expected NAME=FOLDER"),
])
def test_a_bad_corpus_root_is_one_line_and_status_2(flag: str, message: str, capsys) -> None:
    assert prepare_data.main(["--config", SEED000, "--corpus_root", flag]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"prepare_data: error: {message}") and "\n" not in err, err


def test_a_corpus_list_on_the_command_line_replaces_the_configs_list() -> None:
    demo = str(ROOT / "configs" / "prepare" / "demo.yaml")  # its one entry has options {name: demo}
    config = parse_config(["--config", demo, "--corpora", "[{name: ravdess, root: /data/RAVDESS}]"])
    assert [(c.name, c.root, c.options) for c in config.corpora] == [("ravdess", "/data/RAVDESS", {})]
    config = parse_config(["--config", demo, "--corpora=[{name: tess, root: /data/TESS}]"])
    assert [(c.name, c.options) for c in config.corpora] == [("tess", {})]


def test_corpus_root_prepares_a_download_kept_elsewhere(tmp_path: Path, monkeypatch) -> None:
    """The flag on a real RAVDESS layout outside data/corpora/: the clips are found and prepared."""
    copy = tmp_path / "elsewhere" / "RAVDESS"
    D.write_ravdess(copy, actors=range(1, 4), duration=1.2)  # seed001 keeps 1-6 s clips
    monkeypatch.chdir(tmp_path)  # no data/corpora/ here: the config's own root does not exist
    monkeypatch.setattr(pipeline, "_plot", lambda *args, **kwargs: None)  # the PNGs: test_prepare_pipeline's
    out = tmp_path / "prepared"
    status = prepare_data.main(["--config", str(ROOT / "configs" / "prepare" / "seed001.yaml"),
                                "--corpus_root", f"ravdess={copy}", "--output", str(out), "--progress", "false"])
    assert status == 0
    stats = json.loads((out / "stats.json").read_text())
    assert sum(split["num_samples"] for split in stats["splits"].values()) == 3 * 5
