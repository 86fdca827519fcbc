"""``kill -9`` in the middle of ``prepare_data.py``, then the same command finishes what was left.

The corpus is the scale benchmark's generator at a few hundred clips (four formats and rates,
duplicates, label conflicts, broken files), in shards of 4 clips so the kills land between shards.
The first run is killed (its whole process group, workers too, as SLURM and the OOM killer do)
once part of the decoding is journaled, the second once some shards are written, the third
finishes. The result must verify and equal an uninterrupted run byte for byte (manifest, stats,
every shard), the reruns must say how much they kept, and the shards written before the second
kill must be the very same files (inode and mtime), not written again.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks import scale_corpus
from benchmarks.bench_kill_resume import journal_lines, run_until
from data_preparation.shards.shard_format import MANIFEST_FILE, STATS_FILE

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, corpus: Path, output: Path) -> Path:
    specs = scale_corpus.generate(corpus, 240, workers=2)
    config = {
        "corpora": [{"name": s.name, "root": s.root, "options": s.options} for s in specs],
        "taxonomy": "four", "output": str(output), "min_class_share": 0.0,
        "filter": {"min_duration": 0.4, "max_duration": 4.0}, "split": {"mode": "speaker", "seed": 0},
        "shard_max_samples": 4, "workers": 2, "augmentation": None, "logmel": None, "progress": True,
    }
    path = tmp_path / f"{output.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def finish(config: Path) -> str:
    done = subprocess.run([sys.executable, "prepare_data.py", "--config", str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def shards_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "shards").glob("*.tar"))}


def test_kill_9_during_decoding_then_during_shard_writing_then_the_rerun_finishes(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    reference = write_config(tmp_path, corpus, tmp_path / "reference")
    finish(reference)
    config = write_config(tmp_path, corpus, tmp_path / "killed")
    staging = tmp_path / "killed.partial"

    run_until(config, tmp_path / "first.log", lambda: journal_lines(staging) >= 60, timeout=240)
    decoded = journal_lines(staging)
    assert 60 <= decoded < 240, decoded  # killed mid-decoding

    train_shards = staging / "shards"
    run_until(config, tmp_path / "second.log", lambda: len(list(train_shards.glob("train-*.tar"))) >= 3,
              timeout=240)
    second = (tmp_path / "second.log").read_text()
    assert "resuming the killed preparation" in second
    reused = int(second.split("resumed: ")[1].split(" of ")[0])
    assert reused >= decoded - 2, second  # at most the lines in flight are decoded again
    kept = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in train_shards.glob("*.tar")}

    log = finish(config)
    out = tmp_path / "killed"
    assert "resumed: 0 of" not in log and "files already decoded" in log, log
    kept_line = next(line for line in log.splitlines() if "resumed: train:" in line)
    assert int(kept_line.split("resumed: train: ")[1].split(" of ")[0]) >= len([n for n in kept if n.startswith("train")])
    for name, identity in kept.items():  # the same files, not rewritten
        path = out / "shards" / name
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == identity, name
    assert not staging.exists() and not list(out.rglob("*.tmp"))
    verified = subprocess.run([sys.executable, "-m", "data_preparation.verify", str(out)], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    ref = tmp_path / "reference"
    assert (out / MANIFEST_FILE).read_bytes() == (ref / MANIFEST_FILE).read_bytes()
    stats = (out / STATS_FILE).read_text().replace(str(out), "OUT")
    assert stats == (ref / STATS_FILE).read_text().replace(str(ref), "OUT")
    assert shards_of(out) == shards_of(ref)


def test_killed_after_the_last_write_the_rerun_only_moves_the_staged_dataset_into_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """The window between stats.json and the rename: nothing is prepared again, the same files move."""
    from data_preparation import pipeline
    from data_preparation.config import CorpusSpec, PrepareConfig, validate
    from data_preparation.demo_corpus import generate

    generate(tmp_path / "corpus", speakers=4, clips_per_class=3, workers=1, progress=False)
    output = tmp_path / "prepared"
    config = validate(PrepareConfig(corpora=[CorpusSpec("csv", str(tmp_path / "corpus"), {"name": "demo"})],
                                    output=str(output), taxonomy="four", workers=1, shard_max_samples=4))
    real_rename = Path.rename

    def killed(self: Path, target):
        if self.name == "prepared.partial":
            raise KeyboardInterrupt("killed before the rename")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", killed)
    with pytest.raises(KeyboardInterrupt):
        pipeline.prepare(config)
    staged = {p.name: p.stat().st_ino for p in (tmp_path / "prepared.partial" / "shards").glob("*.tar")}
    monkeypatch.setattr(Path, "rename", real_rename)
    capsys.readouterr()
    pipeline.prepare(config)
    assert "holds this whole preparation" in capsys.readouterr().err
    assert {p.name: p.stat().st_ino for p in (output / "shards").glob("*.tar")} == staged
    assert not (output / "resume.json").exists() and not (tmp_path / "prepared.partial").exists()
