"""benchmarks/bench_input.py and bench_gpu.py run end to end on tiny data and print every figure."""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import bench_gpu, bench_input

NUMBER = r"[0-9]+(\.[0-9]+)?"


@pytest.fixture(autouse=True)
def datamodules_log_level() -> Iterator[None]:
    """Both benchmarks' ``main`` quiet the ``datamodules`` logger (level ERROR) for the whole process,
    as a script may; in the test's process that would outlive the test and hide the bad-sample
    warnings that later tests on the same worker read (tests/test_datamodule.py, test_data_integrity.py)."""
    logger = logging.getLogger("datamodules")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.mark.slow
def test_input_benchmark_prints_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bench_input.main(["--clips", "24", "--codecs", "flac", "raw", "--workers", "0", "1", "--prep-sample", "3", "--batch", "4",
                      "--repeats", "1", "--work", str(tmp_path)])
    out = capsys.readouterr().out
    for codec in ("flac", "raw"):
        assert re.search(rf"preparation \({codec}\): 24 files in {NUMBER} s .* files per CPU-s", out), out
        assert re.search(rf"{codec}: +{NUMBER} KiB per clip on disk; decode floor +{NUMBER} clips per CPU-s", out)
        assert re.search(rf"stage costs \({codec}, 0 workers\)", out)
    usage = rf"CPU us per clip: main +{NUMBER}, workers +{NUMBER}; page faults per clip \(minor/major\): main +{NUMBER}/{NUMBER}"
    assert len(re.findall(rf"decode floor .*; {usage}", out)) == 2
    assert len(re.findall(rf"the cheaper of shards mapped {NUMBER} and members read into bytes {NUMBER} CPU us per clip",
                          out)) == 2
    setups = ["0 workers", "1 workers, torch", "1 workers, file_system", "1 workers, slots", "1 workers, slots, persistent"]
    for setup in setups:
        assert len(re.findall(rf"  {setup}: +{NUMBER} clips/s wall, +{NUMBER} clips per CPU-s .* x floor {NUMBER} "
                              rf"\(per CPU-s\), {NUMBER} \(wall\); x librosa +{NUMBER} \(per CPU-s\); {usage}", out)) == 2, setup
    assert re.search(r"target raw, 1 workers, slots: worker CPU [0-9.]+ us per clip <= the main process's [0-9.]+ us "
                     r"at 0 workers: (met|NOT met)", out)
    for stage in ("tar_samples", "seeded_shuffle", "DecodeWaveform", "CropPad", "_batched", "JSON metadata"):
        assert stage in out
    assert re.search(r"librosa file by file: +[0-9.]+ clips per CPU-s", out)
    assert re.search(r"target raw: [0-9]+ clips per CPU-s .*: (met|NOT met)", out)
    assert "shard write (raw)" in out and "resample to 16 kHz" in out


@pytest.mark.slow
def test_gpu_benchmark_runs_on_cpu_with_tiny_sizes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bench_gpu.main(["--tiny", "--device", "cpu", "--precision", "bf16", "--steps", "1", "--workers", "0",
                    "--clips", "16", "--work", str(tmp_path)])
    out = capsys.readouterr().out
    assert "tiny networks; raw shards of 16 clips; batch 4, 4 s clips, bf16 autocast" in out
    for network in ("WavLM-base (tiny)", "EfficientNet-B5 (tiny)"):
        assert re.search(rf"{re.escape(network)} \({NUMBER}M parameters\): training +{NUMBER} clips/s", out), out
    assert len(re.findall(rf"loader, 0 workers: +{NUMBER} clips/s -> (keeps up|does NOT keep up)", out)) == 2
    assert re.search(rf"augmentation: WaveformAugment on cpu +{NUMBER} clips/s, audiomentations .* ratio", out)


def test_full_size_networks_are_base_and_b5_sized() -> None:
    """The GPU run builds the real sizes (no download): WavLM-base ~94M parameters, EfficientNet-B5 ~28M."""
    wavlm = sum(p.numel() for p in bench_gpu.wavlm(tiny=False).parameters()) / 1e6
    b5 = sum(p.numel() for p in bench_gpu.efficientnet_b5(tiny=False).parameters()) / 1e6
    assert 90 < wavlm < 98 and 27 < b5 < 31, (wavlm, b5)
