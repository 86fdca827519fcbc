"""Pretrained weights a network reads from the Hugging Face hub: which, whether they are on disk, and a
one-line refusal when they are not and the hub cannot be reached.

transformers encoders (``microsoft/wavlm-base-plus``) and timm backbones (``efficientnet_b5``, whose
ImageNet weights timm keeps on the hub as ``timm/efficientnet_b5.<tag>``) are read by name. On a node
without internet, or with ``HF_HUB_OFFLINE=1``, a name that is not in the cache ended in about 23 s
of hub retries and a transformers traceback in every rank. Here the files a network will read are
looked up in the cache first (no network), and only when some are missing is the hub probed once,
with a short timeout and no retries; a missing file and an unreachable hub is a
:class:`MissingWeightsError` naming the config key, the cache folder and the fix.

A network class declares what it reads with a classmethod ``hub_weights(args) -> list[HubWeights]``
(``args``: its init arguments, defaults filled in); :func:`weights_of_config` asks every
``class_path`` of a config, so the fetch command (``python fetch_weights.py``) and train.py's check
read the same list from the same resolved config and cannot drift from what the networks load.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from user_errors import UserError

OFFLINE_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
PROBE_TIMEOUT_S = 3.0  # one request, no retries: a refused or black-holed hub is known within this
FETCH_COMMAND = "python fetch_weights.py --config CONFIG"
# transformers reads the first of these that the repository has (an index names its shards)
TRANSFORMERS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                        "pytorch_model.bin.index.json")
TIMM_WEIGHTS = ("model.safetensors", "pytorch_model.bin")  # timm's load_state_dict_from_hf, safetensors first


class MissingWeightsError(UserError):
    """Pretrained weights a network needs are neither on disk nor downloadable from here."""


@dataclass
class HubWeights:
    """One hub repository a network reads: where the config names it, which files, which cache.

    ``key``/``value``: the config key that names it and its value, for messages and ``--to`` folders.
    ``network``/``init_args``: the network class (``module.Class``) and the arguments that load these
    weights, so a fetch is verified by building exactly that network offline.
    ``config_only``: only config.json is read (an architecture built with random weights).
    """

    repo_id: str
    library: str  # "transformers" or "timm"
    key: str
    value: str
    network: str
    init_args: Mapping[str, Any] = field(default_factory=dict)
    cache_dir: str | None = None
    revision: str | None = None
    config_only: bool = False

    @property
    def cache_folder(self) -> str:
        """The hub cache these files are looked up in (``cache_dir``, else ``$HF_HUB_CACHE``/``$HF_HOME/hub``)."""
        from huggingface_hub import constants

        return str(self.cache_dir or _env_cache() or constants.HF_HUB_CACHE)

    @property
    def candidates(self) -> tuple[tuple[str, ...], ...]:
        """Files read, each a tuple of alternatives (the first one the repository has is read)."""
        if self.library == "timm":
            return (TIMM_WEIGHTS,)
        return (("config.json",),) if self.config_only else (("config.json",), TRANSFORMERS_WEIGHTS)


def _env_cache() -> str | None:
    """The cache from the environment as read now (huggingface_hub reads it once, when imported)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    return str(Path(os.environ["HF_HOME"]) / "hub") if os.environ.get("HF_HOME") else None


def offline_requested() -> bool:
    """True when the environment asks transformers and huggingface_hub not to touch the network."""
    return any(os.environ.get(name, "0").strip().lower() in ("1", "true", "yes", "on") for name in OFFLINE_ENV)


def is_local(name: str) -> bool:
    """A model name that is a folder (or timm's ``local-dir:``) is read from disk, never from the hub."""
    return name.startswith("local-dir:") or Path(name).expanduser().exists()


def transformers_weights(args: Mapping[str, Any], network: str, key: str) -> list[HubWeights]:
    """What SpeechEncoderClassifier(**args) reads: nothing when its checkpoint holds the encoder config
    (``encoder_config``, ``pretrained=False``) or ``model_name`` is a folder; else the repository's
    config.json, and its weights unless ``pretrained`` is false."""
    name = str(args.get("model_name"))
    if (args.get("encoder_config") is not None and not args.get("pretrained", True)) or is_local(name):
        return []
    init_args = {k: args.get(k) for k in ("model_name", "pretrained", "cache_dir")}
    return [HubWeights(name, "transformers", f"{key}.model_name", name, network, init_args,
                       cache_dir=args.get("cache_dir"), config_only=not args.get("pretrained", True))]


def timm_weights(args: Mapping[str, Any], network: str, key: str) -> list[HubWeights]:
    """What TimmImageClassifier(**args) reads: the hub repository of the ``model_name``'s pretrained tag.

    Resolved with timm's own pretrained configs (``efficientnet_b5`` -> ``timm/efficientnet_b5.sw_in12k_ft_in1k``);
    names without hub weights (timm's ``url`` sources, unknown names) are left to timm, which reports them.
    """
    name = str(args.get("model_name"))
    if not args.get("pretrained", True) or is_local(name):
        return []
    if name.startswith("hf-hub:"):
        repo = name.removeprefix("hf-hub:")
    else:
        import timm

        cfg = timm.models.get_pretrained_cfg(name)
        repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
        if not repo:
            return []
    repo, _, revision = repo.partition("@")
    init_args = {"model_name": name, "pretrained": True}
    return [HubWeights(repo, "timm", f"{key}.model_name", name, network, init_args, revision=revision or None)]


def import_class(class_path: str) -> Any:
    """The class a config's ``class_path`` names (``module.Class``)."""
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _with_defaults(cls: Any, init_args: Mapping[str, Any]) -> dict[str, Any]:
    """``init_args`` over the class's signature defaults (a config states only what it changes)."""
    defaults = {name: p.default for name, p in inspect.signature(cls).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **dict(init_args or {})}


def _class_paths(config: Any, key: str) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """Every ``{class_path, init_args}`` in ``config`` (nested too), with the key that holds it."""
    if isinstance(config, Mapping):
        if isinstance(config.get("class_path"), str):
            yield config["class_path"], config.get("init_args") or {}, key
        for name, value in config.items():
            if name != "class_path":
                yield from _class_paths(value, f"{key}.{name}" if name != "init_args" else f"{key}.init_args")
    elif isinstance(config, list):
        for index, value in enumerate(config):
            yield from _class_paths(value, f"{key}[{index}]")


def weights_of_config(config: Any, key: str = "model.net") -> list[HubWeights]:
    """The hub weights every network in a resolved config (``model.net``'s dict) will read."""
    found: list[HubWeights] = []
    for class_path, init_args, where in _class_paths(config, key):
        try:
            cls = import_class(class_path)
        except (ImportError, AttributeError):
            continue  # jsonargparse has already refused an unknown class_path in a parsed config
        declare = getattr(cls, "hub_weights", None)
        if callable(declare):
            found += declare(_with_defaults(cls, init_args), f"{where}.init_args")
    unique = {(w.repo_id, w.library, w.revision, w.cache_folder, w.config_only): w for w in reversed(found)}
    return list(reversed(unique.values()))


def _cached(weights: HubWeights, filename: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    path = try_to_load_from_cache(weights.repo_id, filename, cache_dir=weights.cache_folder, revision=weights.revision)
    return path if isinstance(path, str) else None


def cached_files(weights: HubWeights) -> list[str] | None:
    """The cached files the network will read (shards of an index included), or None if one is missing."""
    paths = []
    for alternatives in weights.candidates:
        path = next((p for p in map(lambda name: _cached(weights, name), alternatives) if p), None)
        if path is None:
            return None
        paths.append(path)
        if path.endswith(".index.json"):
            shards = sorted(set(json.loads(Path(path).read_text()).get("weight_map", {}).values()))
            found = [_cached(weights, shard) for shard in shards]
            if not all(found):
                return None
            paths += found
    return paths


def hub_unreachable(weights: HubWeights, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why the hub cannot serve ``weights`` from here (offline mode, no connection), or None if it answers.

    One HEAD request without retries: an HTTP error (a wrong name, a gated model) is an answer, left
    to the loader to report; only a connection that cannot be made counts as unreachable.
    """
    if offline_requested():
        return "offline mode is on (" + ", ".join(f"{n}={os.environ[n]}" for n in OFFLINE_ENV if n in os.environ) + ")"
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import get_session

    endpoint = os.environ.get("HF_ENDPOINT") or None  # as set now (huggingface_hub reads it once, when imported)
    url = hf_hub_url(weights.repo_id, weights.candidates[0][0], revision=weights.revision, endpoint=endpoint)
    try:
        get_session().head(url, timeout=timeout)
    except Exception as error:  # noqa: BLE001  (httpx, requests and OSError errors alike: no connection)
        return f"the hub at {url.split('/' + weights.repo_id)[0]} cannot be reached ({type(error).__name__})"
    return None


def missing_message(weights: HubWeights, reason: str, fetch: str = FETCH_COMMAND) -> str:
    """The one line: the config key and model, the cache looked in, why it cannot be downloaded, the fix."""
    return (f"{weights.key}={weights.value!r}: its pretrained weights ({weights.repo_id}) are not in the Hugging Face "
            f"cache {weights.cache_folder} and {reason}; download them where the hub is reachable with "
            f"`{fetch}` (docs/clusters.md), or set {weights.key}: /path/to/folder holding them")


def require_weights(sources: list[HubWeights], fetch: str = FETCH_COMMAND) -> None:
    """Raise MissingWeightsError for the first source that is neither cached nor downloadable from here."""
    for weights in sources:
        if cached_files(weights) is not None:
            continue
        reason = hub_unreachable(weights)
        if reason is not None:
            raise MissingWeightsError(missing_message(weights, reason, fetch))
