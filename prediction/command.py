"""Label every segment of one or many recordings with its top emotions.

    python predict.py --model runs/demo --inputs talk.mp3 interviews/ --output_dir predictions/
    python predict.py --config configs/after_training/predict.yaml --model runs/ensemble --inputs a.wav --segment.hop 2.5

--model is a checkpoint or an ensemble folder (ensemble/); short windows are padded as its input
contract says (zero or repeat, as in training). Files of any length, rate and channel count that
soundfile or ffmpeg decodes, read and scored block by block (memory does not grow with the
length); folders are searched recursively for audio files. Writes predictions.json (every
probability, the settings, and the files that failed with their reasons) and predictions.csv (one
row per segment with the top-k labels). Exit status 1 when some files failed (the results hold the
others, and the failed ones with their reasons); 2 when no input was predicted (each named with its
reason: not audio, damaged, empty, over --max_duration), which writes no result files, or for a
user error (a missing input, a folder without audio, an unusable, unsafe or truncated model).
A model trained with per-speaker normalisation (the scratch_cpu recipe) normalises every recording
by its training population unless ``--speaker_groups folder`` (each folder is one speaker) or ``all``
says whose recordings belong together (prediction/speaker_groups.py says why that matters).
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

from jsonargparse import ActionConfigFile, ArgumentParser

from corpora.audio_suffixes import AUDIO_SUFFIXES
from prediction.output import results_document, write_csv, write_json
from prediction.predictor import load_predictor
from prediction.recording import RecordingError, RecordingPrediction, check_predictable, predict_file
from prediction.segments import SegmentSpec
from prediction.speaker_groups import check_groupable, group_of, group_statistics

log = logging.getLogger("predict")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_argument("--model", type=str, required=True, help="checkpoint (.ckpt), train.py run folder (its best checkpoint), ensemble folder or classical run folder")
    parser.add_argument("--inputs", type=str, nargs="+", required=True, help="audio files and/or folders")
    parser.add_argument("--output_dir", type=str, default="predictions")
    parser.add_class_arguments(SegmentSpec, "segment")
    parser.add_argument("--batch_size", type=int, default=16, help="segments per forward pass")
    parser.add_argument("--top_k", type=int, default=3)
    parser.add_argument("--device", type=str, default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--max_duration", type=float | None, default=None, help="seconds; longer files are refused")
    parser.add_argument("--speaker_groups", type=str, default="none",
                        help="models trained with per-speaker normalisation: none (the training population's "
                             "statistics), folder (each folder's recordings are one speaker) or all (one speaker)")
    return parser


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given, and audio files (by suffix) under folders, sorted; a missing path or a folder
    without audio files is an error."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"--inputs: {path} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
            paths += found
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(f"--inputs: {path} does not exist")
    return paths


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = build_parser().parse_args(argv)
    spec = SegmentSpec(**config.segment.as_dict())
    try:
        paths = expand_inputs(config.inputs)
        predictor = load_predictor(config.model, device=config.device)
    except (FileNotFoundError, ValueError) as error:  # a missing input, a bad or unsafe model: one line
        log.error("%s", error)
        return 2
    try:
        check_predictable(predictor)  # a log-mel-shard model cannot label recordings: one line, exit 2
    except ValueError as error:
        log.error("%s: %s", config.model, error)
        return 2
    try:
        check_groupable(predictor, config.speaker_groups, config.model)
    except ValueError as error:
        log.error("%s", error)
        return 2
    grouping = config.speaker_groups
    statistics = {} if grouping == "none" else group_statistics(predictor, paths, grouping, config.max_duration)
    recordings: list[RecordingPrediction] = []
    errors: list[dict[str, str]] = []
    started = time.perf_counter()
    for path in paths:
        if grouping != "none":
            predictor.speaker_stats = statistics.get(group_of(path, grouping))
        try:
            recordings.append(predict_file(predictor, path, spec, config.batch_size, config.top_k,
                                           config.max_duration))
        except RecordingError as error:
            log.error("%s", error)
            errors.append({"path": str(path), "reason": str(error)})
    if not recordings:  # nothing to write: header-only files would pass for results (an earlier run's stay)
        if len(paths) > 1:
            log.error("none of the %d inputs could be predicted (each named above): no results written", len(paths))
        return 2
    elapsed = time.perf_counter() - started
    audio_seconds = sum(r.duration for r in recordings)
    contract = predictor.input_contract
    settings = {"model": config.model, "class_names": predictor.class_names, "segment": asdict(spec),
                "input_contract": contract.to_dict() if contract is not None else None,
                "batch_size": config.batch_size, "top_k": config.top_k, "device": config.device,
                "speaker_groups": grouping}
    out = Path(config.output_dir)
    write_json(results_document(recordings, errors, settings), out / "predictions.json")
    write_csv(recordings, out / "predictions.csv", config.top_k)
    # audio_seconds > 0: a recording with no samples is a RecordingError, so the factor is a number
    log.info("%d of %d files, %.1f s of audio in %.1f s (real-time factor %.4f); results in %s",
             len(recordings), len(paths), audio_seconds, elapsed, elapsed / audio_seconds, out)
    return 1 if errors else 0


def run(argv: list[str] | None = None) -> None:
    """``python predict.py`` / ``ser-predict``: :func:`main`'s status as the exit status."""
    sys.exit(main(argv))


if __name__ == "__main__":
    run()
