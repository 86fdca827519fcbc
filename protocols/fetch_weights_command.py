"""Download the pretrained weights configs need: ``python fetch_weights.py --config configs/wavlm.yaml``.

Each ``--config`` is a train.py config or a protocol (configs/protocols/*.yaml), resolved exactly as
train.py (training/cli.py) and cross_validate.py (protocols/config.py) resolve them, with any other
``--key=value`` arguments applied as train.py overrides (protocols/weights.py); the hub weights its
networks read are the ones they declare (lightning_modules/hub_weights.py), so the list cannot drift
from the configs.
They go into the Hugging Face cache (``$HF_HOME``, or a network's ``cache_dir``), or with ``--to
FOLDER`` into ``FOLDER/<name>``, a folder a config then names as ``model.net.init_args.model_name``
(timm: ``local-dir:FOLDER/<name>``). Each is then built by its network class in a fresh interpreter
with ``HF_HUB_OFFLINE=1``, and what was stored is printed with its size. ``--check`` downloads
nothing: it exits 2 with one line when weights are missing and the hub cannot be reached
(slurm/train.sh runs it once per job on offline nodes).

It lives in protocols/ because that is the lowest layer that sees both train.py's config resolution
and the protocols'. User errors are one line and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

from lightning_modules.hub_weights import HubWeights, TIMM_WEIGHTS, TRANSFORMERS_WEIGHTS, cached_files, require_weights
from protocols.weights import FETCH_PROGRAM as PROGRAM, weights_of
from user_errors import UserError, exit_on_user_error

ROOT = Path(__file__).resolve().parents[1]


def allow_patterns(weights: HubWeights, files: Sequence[str]) -> list[str]:
    """The repository's JSON files (config, feature extractor) and the one weights format its loader reads."""
    patterns = ["*.json"]
    if weights.config_only:
        return patterns
    for name in TIMM_WEIGHTS if weights.library == "timm" else TRANSFORMERS_WEIGHTS:
        if name in files:
            stem, suffix = name.removesuffix(".index.json").rsplit(".", 1)
            return patterns + [name] + ([f"{stem}-*.{suffix}"] if name.endswith(".index.json") else [])
    raise UserError(f"{weights.key}={weights.value!r}: the hub repository {weights.repo_id} has none of the weight "
                    f"files its loader reads ({', '.join(TIMM_WEIGHTS if weights.library == 'timm' else TRANSFORMERS_WEIGHTS)})")


def download(weights: HubWeights, to: Path | None) -> Path:
    """Download ``weights`` into the cache (or ``to/<name>``); returns the folder that holds them."""
    from huggingface_hub import HfApi, snapshot_download

    info = HfApi().model_info(weights.repo_id, revision=weights.revision)
    patterns = allow_patterns(weights, [s.rfilename for s in info.siblings or []])
    if to is None:
        return Path(snapshot_download(weights.repo_id, revision=weights.revision, cache_dir=weights.cache_folder,
                                      allow_patterns=patterns))
    return Path(snapshot_download(weights.repo_id, revision=weights.revision, local_dir=to / local_name(weights),
                                  allow_patterns=patterns))


def local_name(weights: HubWeights) -> str:
    return weights.repo_id.rsplit("/", 1)[-1]


def folder_value(weights: HubWeights, folder: Path) -> str:
    """What a config writes as ``model_name`` to read ``folder`` (timm wants ``local-dir:``)."""
    return f"local-dir:{folder}" if weights.library == "timm" else str(folder)


def verify_offline(specs: list[dict[str, Any]]) -> None:
    """:func:`load_offline` in a fresh interpreter with the hub switched off (huggingface_hub reads it at import)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    code = "import json, sys; from protocols.weights import load_offline; load_offline(json.loads(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", code, json.dumps(specs)], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise UserError(f"the downloaded weights do not load offline: {last}")


def size_of(folder: Path) -> tuple[int, int]:
    """(files, bytes) under ``folder``, links followed (the cache's snapshots link to its blobs)."""
    files = [p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts]
    return len(files), sum(p.stat().st_size for p in files)


def fetch(configs: Sequence[str], overrides: Sequence[str], to: Path | None) -> list[str]:
    """Download, verify offline, and return one line per repository: what is stored where, its size."""
    sources = weights_of(configs, overrides)
    if not sources:
        return ["nothing to fetch: the configs' networks read no pretrained hub weights"]
    lines, specs = [], []
    for weights in sources:
        folder = download(weights, to.resolve() if to is not None else None)
        count, size = size_of(folder)
        init_args = dict(weights.init_args)
        if to is not None:
            init_args["model_name"] = folder_value(weights, folder)
        specs.append({"network": weights.network, "init_args": init_args})
        use = f"; use it with --{weights.key}={init_args['model_name']}" if to is not None else ""
        lines.append(f"{weights.repo_id}: {count} files, {size / 1e6:.1f} MB in {folder}{use}")
    verify_offline(specs)
    return lines + [f"verified: {len(sources)} model(s) load with HF_HUB_OFFLINE=1"]


def check(configs: Sequence[str], overrides: Sequence[str]) -> list[str]:
    """Download nothing: every source cached, or the hub reachable (else MissingWeightsError, one line)."""
    sources = weights_of(configs, overrides)
    fetch_command = f"python {PROGRAM} " + " ".join(f"--config {c}" for c in configs)
    require_weights(sources, fetch=fetch_command)
    if not sources:
        return ["pretrained weights: none (the configs' networks read nothing from the hub)"]
    cached = [w.repo_id for w in sources if cached_files(w) is not None]
    return [f"pretrained weights: {len(cached)} of {len(sources)} cached in the Hugging Face cache"
            + (f" ({', '.join(cached)})" if cached else "")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.split("\n\n")[0],
                                     epilog="other --key=value arguments are train.py overrides applied to every config")
    parser.add_argument("--config", action="append", required=True,
                        help="a train.py config or a configs/protocols/*.yaml protocol (repeat for more)")
    parser.add_argument("--to", type=Path, default=None,
                        help="download into FOLDER/<name> instead of the Hugging Face cache")
    parser.add_argument("--check", action="store_true",
                        help="download nothing; exit 2 with one line if weights are missing and the hub is unreachable")
    return parser


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Parse ``argv``, then check or fetch; returns the lines printed."""
    options, overrides = build_parser().parse_known_args(argv)
    if options.check and options.to is not None:
        raise UserError("--check and --to: --check downloads nothing, so it takes no --to folder")
    lines = check(options.config, overrides) if options.check else fetch(options.config, overrides, options.to)
    print("\n".join(lines), flush=True)
    return lines


def run(argv: Sequence[str] | None = None) -> None:
    """``python fetch_weights.py`` / ``ser-fetch-weights``: a user error is one line and exit status 2."""
    with exit_on_user_error(PROGRAM, also=(ValueError, FileNotFoundError, OSError)):
        main(argv)


if __name__ == "__main__":
    run()
