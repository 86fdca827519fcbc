"""``kill -9`` twice during a large preparation, then the same command: does it finish as if never killed?

The scale benchmark's corpus (benchmarks/scale_corpus.py, the same generator and settings as
``bench_scale``'s speaker-split step) is prepared once uninterrupted (the reference; or point
``--reference`` at bench_scale's ``prepared_speaker`` of the same corpus), then again into another
folder: the whole process group is killed with SIGKILL once ``--decode-share`` of the clips are
journaled as decoded, killed again once ``--shards`` training shards are written, and the same
command is run a third time to its end. Printed: the wall time of each run and the reference's, how
many decoded clips and written shards each rerun kept, ``python -m data_preparation.verify`` on
the result, and whether its manifest, stats and every shard equal the reference byte for byte.
tests/test_prepare_resume.py runs the same kills on a few hundred clips.

    nice -n 15 python -m benchmarks.bench_kill_resume --clips 100000 --work /scratch/kill \
        --corpus /scratch/scale/clips_100000/corpus --reference /scratch/scale/clips_100000/prepared_speaker
"""
from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from benchmarks import scale_corpus
from benchmarks.bench_scale import prepare_config
from data_preparation.shards.shard_format import MANIFEST_FILE, STATS_FILE
from data_preparation.stages import DECODE_JOURNAL

REPO = Path(__file__).resolve().parents[1]


def run_until(config: Path, log: Path, ready: Callable[[], bool], timeout: float = 7200) -> float:
    """Start ``prepare_data.py --config CONFIG``; SIGKILL its process group as soon as ``ready()``
    holds (as SLURM and the OOM killer do, workers too). Its wall seconds until the kill."""
    start = time.perf_counter()
    with log.open("w") as handle:
        process = subprocess.Popen([sys.executable, "prepare_data.py", "--config", str(config)], cwd=REPO,
                                   stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        try:
            while not ready():
                if process.poll() is not None:
                    raise RuntimeError(f"finished before the kill point:\n{log.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no kill point within {timeout} s:\n{log.read_text()[-2000:]}")
                time.sleep(0.005)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    return time.perf_counter() - start


def run_to_end(config: Path, log: Path) -> float:
    start = time.perf_counter()
    with log.open("w") as handle:
        done = subprocess.run([sys.executable, "prepare_data.py", "--config", str(config)], cwd=REPO,
                              stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"bench_kill_resume: prepare_data.py failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - start


def journal_lines(staging: Path) -> int:
    """Clips the killed preparation journaled as decoded (data_preparation/stages.py)."""
    try:
        return (staging / ".spool" / DECODE_JOURNAL).read_bytes().count(b"\n")
    except OSError:
        return 0


def shard_digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "shards").glob("*.tar"))}


def same_stats(out: Path, reference: Path) -> bool:
    """stats.json names its own folder; the rest must be equal."""
    return ((out / STATS_FILE).read_text().replace(str(out), "OUT")
            == (reference / STATS_FILE).read_text().replace(str(reference), "OUT"))


def resumed_line(log: Path) -> str:
    return next((line.strip() for line in log.read_text().splitlines() if "resum" in line), "(no resume line)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=100000)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, default=None, help="the generated corpus (default: WORK/corpus)")
    parser.add_argument("--reference", type=Path, default=None,
                        help="an uninterrupted preparation of the same corpus and settings (default: made here)")
    parser.add_argument("--workers", type=int, default=0, help="preparation processes; 0 = every core")
    parser.add_argument("--decode-share", type=float, default=0.3, help="first kill: this share of clips decoded")
    parser.add_argument("--shards", type=int, default=3, help="second kill: this many training shards written")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    specs = scale_corpus.generate(args.corpus or args.work / "corpus", args.clips, workers=args.workers or 2)
    print(f"cores: {len(os.sched_getaffinity(0))}; load before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    reference = args.reference or args.work / "reference"
    if args.reference is None:
        seconds = run_to_end(prepare_config(args.work, specs, reference, args.workers, False), args.work / "reference.log")
        print(f"reference (uninterrupted): {seconds:.0f} s", flush=True)
    out = args.work / "killed"
    config = prepare_config(args.work, specs, out, args.workers, False)
    staging = Path(f"{out}.partial")
    target = int(args.decode_share * args.clips)
    first = run_until(config, args.work / "first.log", lambda: journal_lines(staging) >= target)
    decoded = journal_lines(staging)
    print(f"kill 1 after {first:.0f} s: {decoded} clips journaled as decoded", flush=True)
    shards = staging / "shards"
    second = run_until(config, args.work / "second.log", lambda: len(list(shards.glob("train-*.tar"))) >= args.shards)
    written = sorted(p.name for p in shards.glob("*.tar"))
    print(f"kill 2 after {second:.0f} s: {len(written)} shards written; {resumed_line(args.work / 'second.log')}",
          flush=True)
    third = run_to_end(config, args.work / "third.log")
    print(f"rerun to the end: {third:.0f} s; {resumed_line(args.work / 'third.log')}", flush=True)
    verified = subprocess.run([sys.executable, "-m", "data_preparation.verify", str(out)], cwd=REPO,
                              capture_output=True, text=True)
    print(f"verify: exit {verified.returncode}: {(verified.stdout + verified.stderr).strip().splitlines()[-1:]}")
    checks = {"manifest": (out / MANIFEST_FILE).read_bytes() == (reference / MANIFEST_FILE).read_bytes(),
              "stats": same_stats(out, reference), "shards": shard_digests(out) == shard_digests(reference)}
    print("equal to the uninterrupted run: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in checks.items()))
    print(f"killed + resumed wall: {first + second + third:.0f} s in all")
    if verified.returncode != 0 or not all(checks.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
