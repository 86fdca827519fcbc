"""benchmarks/bench_scale.py at 1,000 clips: every step of the whole path runs and prints its row.

The 10,000 and 100,000-clip runs are the benchmark's (docs/performance.md); no timing is asserted here.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks import bench_scale
from data_preparation.inputs.manifest import read_manifest

pytestmark = pytest.mark.slow

NUMBER = r"[0-9]+(\.[0-9]+)?"


def test_scale_benchmark_runs_the_whole_path_at_1000_clips(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bench_scale.main(["--sizes", "1000", "--work", str(tmp_path), "--workers", "2"])
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| 1000 |")]
    assert len(table) == len(bench_scale.STEPS), out
    for line, step in zip(table, bench_scale.STEPS):
        clips = r"\d+"
        assert re.fullmatch(rf"\| 1000 \| {step} \({clips} clips\) \| {NUMBER} \| {NUMBER} \| {NUMBER} \| "
                            rf"{NUMBER} \| {NUMBER} \|", line), line
    counted = int(re.search(r"prepare speaker \((\d+) clips\)", out).group(1))
    assert 1000 < counted < 1100  # the corpus's listed files: clips plus copies and broken files
    assert "ratios: need two sizes" in out
    for plan in ("speaker split", "5 speaker folds", "leave one speaker out"):
        assert re.search(rf"  {plan}: 1000: {NUMBER}$", out, re.M), out
    manifest = read_manifest(tmp_path / "clips_1000" / "prepared_speaker" / "manifest.csv")
    reasons = {row["reason"] for row in manifest if row["fate"] == "dropped"}
    assert {"duplicate", "label conflict", "empty file", "unreadable", "silent"} <= reasons, reasons  # as merges hold
