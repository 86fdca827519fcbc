"""Export a trained checkpoint: a transformers model folder (speech encoders) and/or ONNX (any network).

    python export_model.py --model runs/wavlm-... --output_dir exported/wavlm   # a run folder: its best checkpoint
    python export_model.py --model runs/demo/checkpoints/last.ckpt --formats '[onnx]' --output_dir exported/cnn

The transformers folder gets a README.md model card (labels, input contract, training data and
split, test metrics, intended use and limits). Each export is checked before the command returns: the transformers pipeline must reproduce the
checkpoint's probabilities within 1e-5, and ONNX Runtime its logits within atol 1e-4 + rtol 1e-3
(on inputs of other batch sizes and lengths than the export example). export.json records both and
the checkpoint's input contract (sample rate, clip length, padding: what callers should feed); the
sample rate comes from that contract.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from jsonargparse import ActionConfigFile, ArgumentParser

from export.hf_folder import check_hf_folder, export_hf_folder, is_native
from export.model_card import run_folder_of, write_model_card
from export.onnx_export import DEFAULT_ATOL, DEFAULT_RTOL, OPSET, check_onnx, export_onnx
from prediction.predictor import ModelPredictor, load_predictor
from user_errors import exit_on_user_error

FORMATS = ("hf", "onnx")
log = logging.getLogger("export_model")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_argument("--model", type=str, required=True, help="a .ckpt of train.py")
    parser.add_argument("--output_dir", type=str, required=True)
    parser.add_argument("--formats", type=list[str], default=["hf", "onnx"], help="hf and/or onnx")
    parser.add_argument("--opset", type=int, default=OPSET)
    parser.add_argument("--onnx_exporter", type=Literal["dynamo", "legacy"], default="dynamo",
                        help="dynamo: torch.export (current); legacy: TorchScript tracing (deprecated)")
    parser.add_argument("--rtol", type=float, default=DEFAULT_RTOL)
    parser.add_argument("--atol", type=float, default=DEFAULT_ATOL)
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = build_parser().parse_args(argv)
    unknown = [f for f in config.formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"--formats {unknown}: expected some of {FORMATS}")
    predictor = load_predictor(config.model, device="cpu")
    if not isinstance(predictor, ModelPredictor):
        raise ValueError(f"{config.model} is an ensemble; export its member checkpoints one by one")
    contract = predictor.input_contract
    if contract is not None and contract.features != "waveform":
        raise ValueError(f"{config.model} was trained on precomputed {contract.features} shards; exports take raw "
                         "audio, so export a model trained on waveforms (data.features: waveform)")
    network, names = predictor.module.net, predictor.class_names
    output = Path(config.output_dir)
    summary: dict[str, Any] = {"model": config.model, "class_names": names,
                               "input_contract": contract.to_dict() if contract is not None else None}
    if "hf" in config.formats:
        folder = export_hf_folder(network, names, output / "hf", predictor.sample_rate)
        write_model_card(folder, names, contract, getattr(network.encoder.config, "name_or_path", None),
                         run_folder_of(config.model), native=is_native(network))
        difference = check_hf_folder(folder, network, names, sample_rate=predictor.sample_rate)
        summary["hf"] = {"folder": str(folder), "max_probability_diff": difference}
        log.info("transformers folder: %s (pipeline matches within %.2g)", folder, summary["hf"]["max_probability_diff"])
    if "onnx" in config.formats:
        path = export_onnx(network, output / "model.onnx", names, sample_rate=predictor.sample_rate, opset=config.opset,
                           contract=contract, exporter=config.onnx_exporter)
        check = check_onnx(path, network, rtol=config.rtol, atol=config.atol)
        summary["onnx"] = {"path": str(path), **asdict(check)}
        log.info("ONNX: %s (max |diff| %.2g vs PyTorch)", path, check.max_abs_diff)
    output.mkdir(parents=True, exist_ok=True)
    (output / "export.json").write_text(json.dumps(summary, indent=2))
    return summary


def run(argv: list[str] | None = None) -> None:
    """``python export_model.py`` / ``ser-export``: :func:`main`, a bad model or unsafe checkpoint as one line and exit 2."""
    with exit_on_user_error("export_model.py", also=(ValueError, FileNotFoundError)):
        main(argv)


if __name__ == "__main__":
    run()
