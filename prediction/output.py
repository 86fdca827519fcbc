"""predict.py's results as JSON (everything) and CSV (one row per segment, top-k columns)."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

from prediction.recording import RecordingPrediction


def results_document(
    recordings: Sequence[RecordingPrediction], errors: Sequence[dict[str, str]], settings: dict[str, Any]
) -> dict[str, Any]:
    """The JSON document: run settings, one entry per recording, and every file that failed with its reason."""
    return {"settings": settings, "recordings": [r.to_dict() for r in recordings], "errors": list(errors)}


def write_json(document: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))
    return path


def write_csv(recordings: Sequence[RecordingPrediction], path: str | Path, k: int) -> Path:
    """Columns: file, segment, start_s, end_s, then label_i / probability_i for i in 1..k."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        header = ["file", "segment", "start_s", "end_s"]
        for rank in range(1, k + 1):
            header += [f"label_{rank}", f"probability_{rank}"]
        writer.writerow(header)
        for recording in recordings:
            for segment in recording.segments:
                row: list[Any] = [recording.path, segment.index, f"{segment.start:.3f}", f"{segment.end:.3f}"]
                for entry in segment.top:
                    row += [entry["label"], f"{entry['probability']:.6f}"]
                writer.writerow(row)
    return path
