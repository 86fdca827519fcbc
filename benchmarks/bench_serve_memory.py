"""Peak memory (RSS) of the web server under N parallel maximum-size uploads, with and without the bound.

    python -m benchmarks.bench_serve_memory [--uploads 8] [--max_parallel 2] [--megabytes 45]

The server (serving/app.py, the demo architecture untrained: the same arithmetic as a trained one)
runs in a fresh process per measurement and reports its own peak RSS (``ru_maxrss``). Each upload
is a WAV of just under the size limit (44.1 kHz stereo PCM-16, ``--megabytes``). Three figures: one
upload alone, N uploads at once with ``limits.max_parallel`` (the bound), and the baseline, the same
N uploads with ``max_parallel = N`` (no effective bound: every upload received and decoded at once).
The ratios are against the single upload.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf


def serve(max_parallel: int, megabytes: float) -> None:
    """Child: serve until stdin closes, then print the peak RSS."""
    from benchmarks.bench_predict import untrained_demo_predictor
    from prediction.segments import SegmentSpec
    from serving.app import EmotionServer, PredictionService, UploadLimits

    limits = UploadLimits(max_bytes=int((megabytes + 1) * 2**20), max_seconds=3600, max_parallel=max_parallel,
                          queue_seconds=600)
    server = EmotionServer(("127.0.0.1", 0), PredictionService(untrained_demo_predictor("cpu"), SegmentSpec(), limits))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()
    server.shutdown()
    print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


def upload(port: int, data: bytes, codes: list[int]) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/predict", data=data, method="POST",
                                     headers={"X-Filename": "max.wav"})
    with urllib.request.urlopen(request, timeout=1800) as response:
        codes.append(response.status)


def measure(data: bytes, uploads: int, max_parallel: int, megabytes: float) -> dict:
    """Peak RSS of a fresh server process while ``uploads`` requests of ``data`` run at once."""
    command = [sys.executable, "-m", "benchmarks.bench_serve_memory", "--child", str(max_parallel), str(megabytes)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(child.stdout.readline())
    started, codes = time.perf_counter(), []
    threads = [threading.Thread(target=upload, args=(port, data, codes)) for _ in range(uploads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    out, _ = child.communicate("")
    if codes != [200] * uploads:
        raise RuntimeError(f"uploads answered {codes}")
    return {**json.loads(out.strip().splitlines()[-1]), "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=8)
    parser.add_argument("--max_parallel", type=int, default=2)
    parser.add_argument("--megabytes", type=float, default=45.0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return serve(int(args.child[0]), float(args.child[1]))
    rate, seconds = 44_100, args.megabytes * 2**20 / (44_100 * 2 * 2)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "max.wav"
        t = np.arange(int(seconds * rate)) / rate
        tone = (0.2 * np.sin(2 * np.pi * 220 * t) * np.abs(np.sin(np.pi * t))).astype(np.float32)
        sf.write(path, np.stack([tone, tone], axis=1), rate, subtype="PCM_16")
        data = path.read_bytes()
    print(f"upload: {len(data) / 2**20:.1f} MiB WAV ({seconds:.0f} s, 44.1 kHz stereo); {args.uploads} at once")
    rows = [("1 upload", measure(data, 1, args.max_parallel, args.megabytes)),
            (f"{args.uploads} uploads, max_parallel={args.max_parallel}",
             measure(data, args.uploads, args.max_parallel, args.megabytes)),
            (f"{args.uploads} uploads, max_parallel={args.uploads} (baseline: unbounded)",
             measure(data, args.uploads, args.uploads, args.megabytes))]
    base = rows[0][1]["peak_rss_mib"]
    for name, row in rows:
        print(f"{name:>48}: peak RSS {row['peak_rss_mib']:7.1f} MiB = {row['peak_rss_mib'] / base:.2f}x one upload "
              f"({row['seconds']:.1f} s)")


if __name__ == "__main__":
    main()
