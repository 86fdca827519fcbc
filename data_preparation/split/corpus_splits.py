"""Speaker-independent train/val/test splits of a merged set, decided corpus by corpus.

Splitting the speakers of a merge all at once lets a large corpus fill the splits on its own:
measured on RAVDESS + TESS + SAVEE + EmoDB, all of TESS landed in train and none of SAVEE did.
Here every corpus is split on its own (``splits.speaker_split``: no speaker in two splits,
classes balanced as far as its speakers allow), so every corpus with enough speakers is in
train, val and test. A corpus with fewer speakers than splits follows ``split.few_speakers``,
and named speakers or whole corpora can be pinned to one split (``split.pin``), which is also
how a cross-corpus protocol holds a corpus out for testing.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Mapping, Sequence

from data_preparation.shards.shard_format import SPLITS
from data_preparation.split.splits import check_fractions, speaker_split

FEW_SPEAKER_RULES = ("train", "val", "test", "error")


def pinned_splits(corpora: Sequence[str], speakers: Sequence[str], pin: Mapping[str, Sequence[str]],
                  allowed: Sequence[str] = SPLITS) -> list[str | None]:
    """The pinned split per item, or None; a pin is ``corpus`` or ``corpus/speaker``.

    A pin that matches no clip, or an item pinned twice, is an error naming the pin: a typo
    must not silently leave a test speaker in training.

    >>> pinned_splits(["r", "r", "t"], ["a", "b", "c"], {"test": ["r/b"], "train": ["t"]})
    [None, 'test', 'train']
    """
    result: list[str | None] = [None] * len(corpora)
    for split, names in pin.items():
        if split not in allowed:
            raise ValueError(f"split.pin: unknown split {split!r}, expected one of {list(allowed)}")
        for name in names:
            corpus, _, speaker = str(name).partition("/")
            hits = [i for i, (c, s) in enumerate(zip(corpora, speakers)) if c == corpus and (not speaker or s == speaker)]
            if not hits:
                raise ValueError(f"split.pin.{split}: {name!r} matches no kept clip (pins are 'corpus' or 'corpus/speaker')")
            for i in hits:
                if result[i] not in (None, split):
                    raise ValueError(f"split.pin: {corpora[i]}/{speakers[i]} is pinned to both {result[i]} and {split}")
                result[i] = split
    return result


def split_within_corpora(
    labels: Sequence[str], corpora: Sequence[str], speakers: Sequence[str], fractions: Sequence[float], seed: int,
    few_speakers: str = "train", pin: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """(split per item, rule applied per corpus): each corpus's unpinned speakers split on their own.

    ``few_speakers`` says where a corpus goes whose unpinned speakers are fewer than the splits
    with a positive fraction: all into 'train', 'val' or 'test', or 'error' to stop.
    """
    if few_speakers not in FEW_SPEAKER_RULES:
        raise ValueError(f"split.few_speakers={few_speakers!r}: expected one of {list(FEW_SPEAKER_RULES)}")
    fractions = check_fractions(fractions)
    wanted = sum(f > 0 for f in fractions)
    result = pinned_splits(corpora, speakers, pin or {})
    members: dict[str, list[int]] = defaultdict(list)
    for index, corpus in enumerate(corpora):
        if result[index] is None:
            members[corpus].append(index)
    rules = {c: "pinned" for c in sorted(set(corpora)) if c not in members}
    for corpus in sorted(members):
        indices = members[corpus]
        count = len({speakers[i] for i in indices})
        if count >= wanted:
            parts = speaker_split([labels[i] for i in indices], [speakers[i] for i in indices], fractions, seed)
            rules[corpus] = "speaker-independent"
        elif few_speakers == "error":
            raise ValueError(f"corpus {corpus!r} has {count} unpinned speaker(s), fewer than the {wanted} splits; "
                             "set split.few_speakers to train, val or test, or pin its speakers (split.pin)")
        else:
            parts = [few_speakers] * len(indices)
            rules[corpus] = f"{count} speaker(s) < {wanted} splits: all in {few_speakers} (split.few_speakers)"
        for index, part in zip(indices, parts):
            result[index] = part
    return [str(r) for r in result], rules


def corpus_summary(corpora: Sequence[str], speakers: Sequence[str], splits: Sequence[str],
                   rules: Mapping[str, str] | None = None) -> dict[str, dict]:
    """Per corpus: speaker and clip counts per split and the rule that placed it (for stats.json).

    >>> corpus_summary(["r", "r"], ["a", "b"], ["train", "test"])["r"]["speakers_per_split"]
    {'test': 1, 'train': 1}
    """
    clips: dict[str, Counter] = defaultdict(Counter)  # corpus -> split -> clips (one pass: a fold
    speakers_in: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))  # plan has many groups)
    for corpus, speaker, split in zip(corpora, speakers, splits):
        clips[corpus][split] += 1
        speakers_in[corpus][split].add(speaker)
    table: dict[str, dict] = {}
    for corpus in sorted(clips):
        names = sorted(clips[corpus])
        table[corpus] = {
            "speakers": len(set().union(*speakers_in[corpus].values())),
            "clips": sum(clips[corpus].values()),
            "rule": (rules or {}).get(corpus, ""),
            "speakers_per_split": {p: len(speakers_in[corpus][p]) for p in names},
            "clips_per_split": {p: clips[corpus][p] for p in names},
        }
    return table


def format_corpus_summary(table: Mapping[str, dict]) -> str:
    """The printed per-corpus summary: one line per corpus with clips/speakers per split and the rule."""
    lines = ["split per corpus (clips / speakers):"]
    for corpus, row in table.items():
        cells = ", ".join(f"{split} {row['clips_per_split'][split]}/{row['speakers_per_split'][split]}"
                          for split in row["clips_per_split"])
        lines.append(f"  {corpus}: {cells}" + (f"  [{row['rule']}]" if row["rule"] else ""))
    return "\n".join(lines)
