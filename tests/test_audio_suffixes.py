"""The audio file suffixes are written once (corpora/audio_suffixes.py), not retyped per reader."""
from __future__ import annotations

import ast
from pathlib import Path

from corpora.audio_suffixes import AUDIO_SUFFIXES, CORPUS_AUDIO_SUFFIXES, LOSSLESS_FIRST, VIDEO_SUFFIXES

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / "corpora" / "audio_suffixes.py"
SKIP = {"tests", "benchmarks", "docs", "configs"}


def _suffix_literals(path: Path) -> list[int]:
    """Lines of tuple/list/set literals in ``path`` that hold two or more audio suffixes."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            named = {e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in AUDIO_SUFFIXES}
            if len(named) >= 2:
                lines.append(node.lineno)
    return lines


def test_no_module_but_one_lists_audio_suffixes():
    files = [p for p in ROOT.rglob("*.py") if not (set(p.relative_to(ROOT).parts[:1]) & SKIP)
             and not any(part.startswith(".") for part in p.relative_to(ROOT).parts)]
    assert HOME in files and _suffix_literals(HOME)  # the check sees the one true list
    copies = {str(p.relative_to(ROOT)): lines for p in files if p != HOME and (lines := _suffix_literals(p))}
    assert not copies, f"audio suffixes typed again (import them from corpora/audio_suffixes.py): {copies}"


def test_the_sets_relate_as_documented():
    assert CORPUS_AUDIO_SUFFIXES == set(AUDIO_SUFFIXES) - VIDEO_SUFFIXES
    assert set(LOSSLESS_FIRST) <= CORPUS_AUDIO_SUFFIXES and len(set(AUDIO_SUFFIXES)) == len(AUDIO_SUFFIXES)
    assert all(s == s.lower() and s.startswith(".") for s in AUDIO_SUFFIXES)
