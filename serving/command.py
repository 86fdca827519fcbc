"""The web page: upload a recording, see its waveform, hear it, and watch the emotions of each segment.

    python serve.py --model runs/ensemble            # then open http://127.0.0.1:8000/
    python serve.py --config configs/after_training/serve.yaml --model runs/demo --port 8080

Binds the loopback interface only. Limits (size, duration) and segmenting are options; the page
shows the top three emotions of the current five-second segment while the audio plays, coloured
green above 80 %, orange from 60 to 80 % and red below 60 %, and the list of all segments.
"""
from __future__ import annotations

import logging
import sys

from jsonargparse import ActionConfigFile, ArgumentParser

from prediction.predictor import load_predictor
from prediction.recording import check_predictable
from prediction.segments import SegmentSpec
from serving.app import EmotionServer, PredictionService, UploadLimits
from user_errors import UserError, exit_on_user_error


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_argument("--model", type=str, required=True, help="checkpoint (.ckpt), train.py run folder (its best checkpoint), ensemble folder or classical run folder")
    parser.add_argument("--host", type=str, default="127.0.0.1", help="127.0.0.1 or localhost only")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--device", type=str, default="auto")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_class_arguments(SegmentSpec, "segment")
    parser.add_class_arguments(UploadLimits, "limits")
    return parser


def build_server(argv: list[str] | None = None) -> EmotionServer:
    config = build_parser().parse_args(argv)
    predictor = load_predictor(config.model, device=config.device)
    check_predictable(predictor)  # the checkpoint's input contract must be one recordings can feed
    service = PredictionService(predictor, SegmentSpec(**config.segment.as_dict()),
                                UploadLimits(**config.limits.as_dict()), config.batch_size)
    try:
        return EmotionServer((config.host, config.port), service)
    except OSError as error:  # the port is taken (Errno 98), privileged, or the host cannot be bound
        raise UserError(f"--host {config.host} --port {config.port}: cannot listen there: "
                        f"{error.strerror or error}; choose another --port (or stop the server using it)") from None


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        server = build_server(argv)
    except ValueError as error:  # a model this page cannot feed: one sentence, exit 2
        print(f"serve.py: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"serving on {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def run(argv: list[str] | None = None) -> None:
    """``python serve.py`` / ``ser-serve``: :func:`main`, a bad model or unsafe checkpoint as one line and exit 2."""
    with exit_on_user_error("serve.py", also=(ValueError, FileNotFoundError)):
        main(argv)


if __name__ == "__main__":
    run()
