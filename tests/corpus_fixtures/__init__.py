"""Fixture trees in each corpus's real layout, with generated audio under real file names.

Each ``write_<corpus>_fixture(root)`` writes a small tree that exercises the convention's edge
cases (case-inconsistent folders, a FLAC stream named ``.wav``, a shortened speaker prefix, the
same recording twice, a file that breaks the convention, a non-audio file) and returns a
FixtureExpectation: what the reader must list and report. ``write_mixed_fixture`` writes four
clean corpora side by side for end-to-end preparation tests (1-4 s clips, 112 files).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from tests.corpus_fixtures._files import FixtureExpectation, encode_mp4, ffmpeg_available, write_audio, write_csv, write_text
from tests.corpus_fixtures.acted import (
    write_crema_d_fixture,
    write_emodb_fixture,
    write_emovo_fixture,
    write_jl_corpus_fixture,
    write_ravdess_fixture,
    write_savee_fixture,
    write_tess_fixture,
    write_urdu_fixture,
)
from tests.corpus_fixtures.generic import write_csv_fixture, write_folder_fixture
from tests.corpus_fixtures.labelled import write_esd_fixture, write_iemocap_fixture, write_meld_fixture, write_mlend_fixture
from tests.corpus_fixtures.mixed import write_mixed_fixture

ALL_FIXTURES: dict[str, Callable[[Path], FixtureExpectation]] = {
    "csv": write_csv_fixture,
    "folder": write_folder_fixture,
    "crema_d": write_crema_d_fixture,
    "ravdess": write_ravdess_fixture,
    "tess": write_tess_fixture,
    "emodb": write_emodb_fixture,
    "savee": write_savee_fixture,
    "jl_corpus": write_jl_corpus_fixture,
    "meld": write_meld_fixture,
    "mlend": write_mlend_fixture,
    "esd": write_esd_fixture,
    "iemocap": write_iemocap_fixture,
    "urdu": write_urdu_fixture,
    "emovo": write_emovo_fixture,
}


__all__ = [
    "ALL_FIXTURES", "FixtureExpectation", "encode_mp4", "ffmpeg_available", "write_audio", "write_csv", "write_text",
    "write_mixed_fixture", *(f"write_{name}_fixture" for name in ("csv", "folder", "crema_d", "ravdess", "tess", "emodb",
                                                               "savee", "jl_corpus", "meld", "mlend", "esd", "iemocap",
                                                               "urdu", "emovo")),
]
