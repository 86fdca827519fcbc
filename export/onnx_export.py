"""ONNX export of any network with the ``(audio [B, T], lengths [B]) -> logits [B, C]`` interface,
checked against ONNX Runtime.

Batch and time are dynamic axes. Spectrogram front-ends are swapped for their convolutional DFT
form first (export/dft_spectrogram.py), so log-mel / MFCC models export whole: the ONNX file takes
raw audio at the checkpoint's sample rate like the checkpoint does. The class names travel in the file's metadata
(``class_names``, JSON). A network that ignores ``lengths`` (spectrogram-image models resize the
whole clip) gets an ONNX graph with the ``audio`` input only. ``check_onnx`` runs the file in ONNX Runtime on inputs of other batch
sizes and lengths than the export example and fails when any logit differs from PyTorch's by
more than ``atol + rtol * |logit|``.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from data_preparation.input_contract import InputContract
from data_preparation.shards.shard_format import SAMPLE_RATE
from export.dft_spectrogram import replace_spectrograms

OPSET = 18  # the dynamo exporter's own opset; lower ones go through its version converter
EXPORTERS = ("dynamo", "legacy")
DEFAULT_RTOL, DEFAULT_ATOL = 1e-3, 1e-4  # float32 logits after different kernel orders and an STFT-as-conv


class OnnxMismatchError(RuntimeError):
    """ONNX Runtime and PyTorch disagree beyond the stated tolerance."""


@dataclass(frozen=True)
class OnnxCheck:
    max_abs_diff: float
    max_rel_diff: float
    shapes: list[tuple[int, int]]  # (batch, samples) of each checked input
    rtol: float
    atol: float


def exportable_copy(network: nn.Module) -> nn.Module:
    """A deep copy in eval mode on the CPU, with spectrograms replaced by their ONNX-friendly form."""
    clone = copy.deepcopy(network).cpu().eval()
    replace_spectrograms(clone)
    return clone


def export_onnx(
    network: nn.Module, path: str | Path, class_names: Sequence[str], example_seconds: float = 2.0,
    sample_rate: int = SAMPLE_RATE, opset: int = OPSET, contract: InputContract | None = None,
    exporter: str = "dynamo",
) -> Path:
    """Write ``network`` as ONNX with inputs audio [batch, time] float32, lengths [batch] int64.

    ``exporter``: 'dynamo' (torch.export, PyTorch's exporter since 2.9) or 'legacy' (TorchScript
    tracing, deprecated and slated for removal, kept for networks dynamo cannot capture). Their
    warnings reach the caller. The metadata holds ``class_names``, ``sample_rate`` and, when given,
    the ``input_contract`` (JSON).
    """
    import onnx

    if exporter not in EXPORTERS:
        raise ValueError(f"exporter={exporter!r}: expected one of {list(EXPORTERS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clone = exportable_copy(network)
    samples = int(example_seconds * sample_rate)
    audio = torch.randn(2, samples) * 0.1
    lengths = torch.tensor([samples, samples * 3 // 4])
    names = {"input_names": ["audio", "lengths"], "output_names": ["logits"]}
    if exporter == "dynamo":
        dynamic = torch.export.Dim.DYNAMIC  # the exporter infers each axis's range and relations
        torch.onnx.export(clone, (audio, lengths), str(path), dynamo=True, opset_version=opset, **names,
                          dynamic_shapes={"audio": {0: dynamic, 1: dynamic}, "lengths": {0: dynamic}})
    else:
        torch.onnx.export(clone, (audio, lengths), str(path), dynamo=False, opset_version=opset, **names,
                          dynamic_axes={"audio": {0: "batch", 1: "time"}, "lengths": {0: "batch"},
                                        "logits": {0: "batch"}})
    model = onnx.load(str(path))
    metadata = {"class_names": json.dumps(list(class_names)), "sample_rate": str(sample_rate)}
    if contract is not None:
        metadata["input_contract"] = json.dumps(contract.to_dict())
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def check_onnx(
    path: str | Path, network: nn.Module, shapes: Sequence[tuple[int, int]] = ((1, 24_000), (3, 40_000)),
    rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL, seed: int = 0,
) -> OnnxCheck:
    """Compare ONNX Runtime with PyTorch (the original network, not the export copy) on random audio.

    Each (batch, samples) input has rows of different valid lengths, so padding masks are exercised.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    network = network.eval()
    worst_abs = worst_rel = 0.0
    for batch, samples in shapes:
        audio = torch.randn(batch, samples, generator=generator) * 0.1
        lengths = torch.linspace(samples, samples // 2, batch).long()
        with torch.inference_mode():
            expected = network(audio.to(_device_of(network)), lengths.to(_device_of(network))).float().cpu().numpy()
        feeds = {"audio": audio.numpy(), "lengths": lengths.numpy()}
        # A network that ignores lengths (image models resize the whole clip) has no such input.
        (actual,) = session.run(["logits"], {i.name: feeds[i.name] for i in session.get_inputs()})
        difference = np.abs(actual - expected)
        worst_abs = max(worst_abs, float(difference.max()))
        worst_rel = max(worst_rel, float((difference / (np.abs(expected) + 1e-12)).max()))
        if not np.allclose(actual, expected, rtol=rtol, atol=atol):
            raise OnnxMismatchError(
                f"{path}: ONNX Runtime logits differ from PyTorch by up to {difference.max():.3g} "
                f"(tolerance atol={atol:g} + rtol={rtol:g} * |logit|) for input {batch}x{samples}"
            )
    return OnnxCheck(worst_abs, worst_rel, [tuple(s) for s in shapes], rtol, atol)


def _device_of(network: nn.Module) -> torch.device:
    parameter = next(network.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
