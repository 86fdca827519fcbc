"""Networks by name: a decorator registry and one factory (timm's ``_registry``/``_factory`` idea).

Configs normally build networks with ``class_path``; the registry serves code and tests that
pick a network by a short name, with source prefixes parsed in one place::

    create_network("hf:microsoft/wavlm-base-plus", num_classes=9)   # SpeechEncoderClassifier
    create_network("timm:efficientnet_b5", num_classes=9)           # TimmImageClassifier

>>> from lightning_modules.components.frontends import MFCC
>>> type(create_network("small_cnn", num_classes=9, frontend=MFCC())).__name__  # SmallCNN on MFCCs + deltas
'SmallCNN'
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

_NETWORKS: dict[str, Callable[..., nn.Module]] = {}
_SOURCES: dict[str, str] = {}  # prefix ("hf", "timm") -> registered network taking model_name


def register_network(name: str, source: str | None = None) -> Callable[[Callable[..., nn.Module]], Any]:
    """Register a network class (or builder) under ``name``; ``source`` claims a prefix like 'hf'."""

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _NETWORKS:
            raise ValueError(f"network {name!r} is registered twice ({_NETWORKS[name]} and {builder})")
        _NETWORKS[name] = builder
        if source is not None:
            _SOURCES[source] = name
        return builder

    return decorate


def parse_network_name(name: str) -> tuple[str, dict[str, str]]:
    """Registered network and extra kwargs for ``name``; 'hf:x' / 'timm:x' set model_name=x.

    >>> parse_network_name("small_cnn")
    ('small_cnn', {})
    """
    prefix, sep, rest = name.partition(":")
    if sep and prefix in _SOURCES:
        return _SOURCES[prefix], {"model_name": rest}
    if sep:
        raise ValueError(f"network {name!r}: unknown source prefix {prefix!r}; known: {sorted(_SOURCES)}")
    return name, {}


def list_networks(pattern: str = "") -> list[str]:
    """Registered network names containing ``pattern``, sorted."""
    return sorted(name for name in _NETWORKS if pattern in name)


def create_network(name: str, num_classes: int, **kwargs: Any) -> nn.Module:
    """Build the network called ``name``; keyword arguments set to None are dropped (the default wins)."""
    key, extra = parse_network_name(name)
    if key not in _NETWORKS:
        raise ValueError(f"unknown network {name!r}; registered: {list_networks()}")
    kwargs = {k: v for k, v in {**kwargs, **extra}.items() if v is not None}
    return _NETWORKS[key](num_classes, **kwargs)
