"""IEMOCAP (Busso et al. 2008, sail.usc.edu/iemocap).

Five sessions, each a dyad of one female and one male actor. Layout of the full release:
``Session<N>/sentences/wav/<dialog>/<turn>.wav`` and the labels in
``Session<N>/dialog/EmoEvaluation/<dialog>.txt``, whose summary lines read
``[START - END]<TAB>TURN_NAME<TAB>EMOTION<TAB>[V, A, D]``. A turn name such as
``Ses01F_impro01_M013`` or ``Ses01F_script02_1_F005`` ends with the gender of the actor who
speaks it, so the speaker is the session plus that letter (``Ses01M``). Labels: ang, hap,
exc, sad, neu, fru, fea, sur, dis, oth, xxx (xxx: no majority; the label table excludes it).

Option ``dialogs``: "improvised" (default), "scripted" or "all". Improvised is the default
because the scripted plays reuse the same lines across emotions in a way that lets lexical
content leak into the label and because most SER work reports on it; the four-class "all"
setup (exc merged into happy) is one option away. Option ``sessions`` picks sessions (1-5).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from corpora._common import ConventionError, ListingBuilder, audio_files, by_preference, find_dirs
from corpora.record import AttributeValue, CorpusListing
from corpora.registry import register_corpus

SESSION_DIR = re.compile(r"^session(?P<number>[1-5])$", re.IGNORECASE)
SUMMARY = re.compile(
    r"^\[\s*(?P<start>[\d.]+)\s*-\s*(?P<end>[\d.]+)\s*\]\s+(?P<turn>\S+)\s+(?P<label>\S+)\s+"
    r"\[\s*(?P<v>[\d.]+)\s*,\s*(?P<a>[\d.]+)\s*,\s*(?P<d>[\d.]+)\s*\]"
)
TURN = re.compile(r"^Ses(?P<session>\d{2})[FM]_(?P<kind>impro|script)[^_]*(?:_[^_]+)*_(?P<gender>[FM])\d{3}$")
DIALOGS = {"improvised": ("impro",), "scripted": ("script",), "all": ("impro", "script")}


@register_corpus("iemocap")
def read_iemocap(root: Path, dialogs: str = "improvised", sessions: Sequence[int] = (1, 2, 3, 4, 5)) -> CorpusListing:
    if dialogs not in DIALOGS:
        raise ValueError(f"option dialogs={dialogs!r}: expected one of {', '.join(DIALOGS)}")
    builder = ListingBuilder("iemocap", root)
    session_dirs = _session_dirs(root, set(sessions))
    if not session_dirs:
        raise FileNotFoundError(f"corpus 'iemocap': no Session1..Session5 folder in {root} or one level below")
    for session_dir in session_dirs:
        _read_session(builder, session_dir, DIALOGS[dialogs])
    return builder.build()


def _session_dirs(root: Path, wanted: set[int]) -> list[Path]:
    candidates = [root, *sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.as_posix())]
    found = [d for parent in candidates if parent.is_dir() for d in sorted(parent.iterdir(), key=lambda p: p.name) if d.is_dir()]
    return [d for d in found if (m := SESSION_DIR.match(d.name)) and int(m["number"]) in wanted]


def _read_session(builder: ListingBuilder, session_dir: Path, kinds: tuple[str, ...]) -> None:
    labels = _labels(session_dir)
    wav_dirs = [w for s in find_dirs(session_dir, "sentences", recursive=False) for w in find_dirs(s, "wav", recursive=False)]
    listed: set[str] = set()
    dialogs_present: set[str] = set()
    for path in by_preference(p for wav_dir in wav_dirs for p in audio_files(builder, wav_dir)):
        try:
            session, kind, gender = _parse_turn(path)
        except ConventionError as error:
            builder.problem(path, str(error))
            continue
        dialogs_present.add(path.parent.name)
        if kind not in kinds:
            builder.skip(f"IEMOCAP {'scripted' if kind == 'script' else 'improvised'} dialog (option dialogs)")
            continue
        if path.stem not in labels:
            builder.problem(path, f"turn {path.stem} has no line in {session_dir.name}/dialog/EmoEvaluation/{path.parent.name}.txt")
            continue
        label, attributes, _ = labels[path.stem]
        attributes = {**attributes, "session": session, "dialog": path.parent.name, "gender": "female" if gender == "F" else "male",
                      "improvised": kind == "impro"}
        if builder.add(path, label, f"Ses{session:02d}{gender}", attributes, identity=path.stem):
            listed.add(path.stem)
    for turn, (_, _, text_file) in sorted(labels.items()):
        dialog = turn.rsplit("_", 1)[0]
        if dialog in dialogs_present and turn not in listed and any(k in turn for k in kinds):
            builder.problem(text_file, f"turn {turn} is labelled but has no wav in sentences/wav/{dialog}/")


def _parse_turn(path: Path) -> tuple[int, str, str]:
    match = TURN.match(path.stem)
    if match is None:
        raise ConventionError("name is not an IEMOCAP turn (e.g. Ses01F_impro01_M013.wav)")
    if not path.stem.startswith(path.parent.name + "_"):
        raise ConventionError(f"turn {path.stem} is not in its dialog folder (found in {path.parent.name}/)")
    return int(match["session"]), match["kind"], match["gender"]


Labels = dict[str, tuple[str, dict[str, AttributeValue], Path]]


def _labels(session_dir: Path) -> Labels:
    """Turn name -> (categorical label, attributes, evaluation file) from the EmoEvaluation summary lines."""
    labels: Labels = {}
    eval_dirs = [e for d in find_dirs(session_dir, "dialog", recursive=False) for e in find_dirs(d, "EmoEvaluation", recursive=False)]
    for eval_dir in eval_dirs:
        for text_file in sorted(p for p in eval_dir.glob("*.txt") if not p.name.startswith("._")):
            for line in text_file.read_text(encoding="utf-8", errors="replace").splitlines():
                match = SUMMARY.match(line.strip())
                if match:
                    labels[match["turn"]] = (match["label"], {
                        "start": float(match["start"]), "end": float(match["end"]),
                        "valence": float(match["v"]), "activation": float(match["a"]), "dominance": float(match["d"]),
                    }, text_file)
    return labels
