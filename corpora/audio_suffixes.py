"""The file suffixes the toolkit takes for audio, defined once for every reader of files.

``data_preparation/decode/audio_io.read_audio`` decodes all of them (libsndfile, else ffmpeg), so
predict.py takes them from a folder and the web page accepts them as uploads. Corpus readers take
the same set without the video containers: RAVDESS and CREMA-D ship video beside their audio,
and those files are not the readers' business (MELD, whose audio is in mp4 clips, adds ``.mp4``
back itself). The module sits in corpora/, the lowest layer that reads files, so that
data_preparation/, prediction/ and serving/ can all import it.

>>> ".mp4" in AUDIO_SUFFIXES, ".mp4" in CORPUS_AUDIO_SUFFIXES, ".flac" in CORPUS_AUDIO_SUFFIXES
(True, False, True)
"""
from __future__ import annotations

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aiff", ".aif", ".webm", ".mp4")
VIDEO_SUFFIXES = frozenset({".webm", ".mp4"})
CORPUS_AUDIO_SUFFIXES = frozenset(AUDIO_SUFFIXES) - VIDEO_SUFFIXES
# Of two copies of one recording a corpus reader lists the first in this order (lossless first).
LOSSLESS_FIRST = (".wav", ".flac", ".aiff", ".aif", ".mp3")
