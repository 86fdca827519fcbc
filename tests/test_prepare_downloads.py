"""Every shipped preparation config (configs/prepare/*.yaml, which the seed rows' data_root names)
prepares its corpora laid out as downloaded, typed the way its header tells a user to.

The configs name their corpora under ``data/corpora/<Name>``; their header says to put (or
symlink) each download there. So the test does exactly that in a scratch checkout (``configs/``
linked, the download-layout fixtures of tests/corpus_fixtures/downloads.py written under
``data/corpora/``, 1.05 s clips so seed 000's 1-4 s filter keeps them) and runs
``prepare_data.py --config configs/prepare/<name>.yaml`` unchanged: it must succeed, keep every
corpus it lists, and set no clip aside except for its taxonomy, its class-share threshold or its
duration filter.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from data_preparation import command as prepare_data
from data_preparation import demo_corpus
from data_preparation.config import parse_config
from data_preparation.shards.shard_format import load_dataset_info
from tests.corpus_fixtures import downloads as D
from tests.corpus_fixtures import ffmpeg_available, write_mixed_fixture

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs" / "prepare").glob("*.yaml"))
SECONDS = 1.05  # just inside seed 000's 1-4 s
WRITERS = {  # the folder under data/corpora/ each config names -> its download, written once
    "CREMA-D": lambda root: D.write_crema_d(root, actors=4, duration=SECONDS),
    "MELD": lambda root: D.write_meld(root, duration=SECONDS),
    "MLEnd": lambda root: D.write_mlend(root, speakers=3, duration=SECONDS),
    "RAVDESS": lambda root: D.write_ravdess(root, actors=range(1, 5), emotions=tuple(D.RAVDESS_EMOTIONS), duration=SECONDS),
    "SAVEE": lambda root: D.write_savee(root, duration=SECONDS),
    "TESS": lambda root: D.write_tess(root, words=TESS_WORDS, duration=SECONDS),
    "ESD": lambda root: D.write_esd(root, speakers=range(11, 14), duration=SECONDS),
    "JL-Corpus": lambda root: D.write_jl_corpus(root, duration=SECONDS),
}
ALLOWED = {"not in taxonomy", "rare class", "too short", "too long"}  # what a config chooses to leave out
TESS_WORDS = ("back",)
LISTED_TWICE = {"data/corpora/TESS": len(D.tess_files(TESS_WORDS))}  # Kaggle's TESS holds its tree twice: one copy is kept


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch) -> None:
    """Skip the PNG plots (~2 s of matplotlib layout per preparation; test_prepare_pipeline.py checks them)."""
    from data_preparation import pipeline

    monkeypatch.setattr(pipeline, "_plot", lambda *args, **kwargs: None)


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A scratch checkout: ``configs/`` of the repository, downloads put where the configs expect them."""
    root = tmp_path_factory.mktemp("checkout")
    (root / "configs").symlink_to(REPO / "configs")
    return root


def put_downloads(clone: Path, config: Path) -> None:
    for corpus in parse_config(["--config", str(config)]).corpora:
        folder = clone / corpus.root
        if folder.exists():
            continue
        if corpus.root == "data/demo_corpus":
            demo_corpus.generate(folder, speakers=6, clips_per_class=2, progress=False)
        elif corpus.root.startswith("data/fixtures/mixed/"):
            write_mixed_fixture(folder.parent)
        else:
            name = Path(corpus.root).name
            if name == "MELD" and not ffmpeg_available():
                pytest.skip("MELD ships mp4 clips: ffmpeg is needed to write (and read) them")
            WRITERS[name](folder)


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_shipped_preparation_runs_on_its_downloads(config: Path, clone: Path, monkeypatch) -> None:
    monkeypatch.chdir(clone)
    put_downloads(clone, config)
    relative = f"configs/prepare/{config.name}"
    assert prepare_data.main(["--config", relative, "--progress", "false"]) == 0
    settings = parse_config(["--config", relative])
    info = load_dataset_info(str(clone / settings.output))
    written = {c for split in info.splits.values() for c in split.per_corpus}
    assert written == {c.options.get("name", c.name) for c in settings.corpora}, "a corpus it lists wrote no clip"
    dropped = dict(info.extra["dropped_by_reason"])
    twice = sum(LISTED_TWICE.get(c.root, 0) for c in settings.corpora)
    assert dropped.pop("duplicate", 0) == twice, info.extra["dropped_by_reason"]
    assert set(dropped) <= ALLOWED, info.extra["dropped_by_reason"]
