"""The loader's own stages stay what WebDataset's were: the same samples in the same order, draw for draw."""
from __future__ import annotations

import random

import pytest
import webdataset as wds

from datamodules.pipeline_stages import SharedEpoch, _shuffled, seeded_shuffle


@pytest.mark.parametrize("samples", [0, 1, 7, 99, 100, 101, 2500])
@pytest.mark.parametrize("bufsize, initial", [(1, 1), (10, 10), (1000, 100), (50, 50), (7, 3)])
def test_shuffle_is_webdatasets_draw_for_draw(samples: int, bufsize: int, initial: int) -> None:
    """Every training batch depends on this order: a change would silently change every run's batches."""
    expected = list(wds.shuffle(bufsize=bufsize, initial=initial, rng=random.Random(samples))(iter(range(samples))))
    assert list(_shuffled(iter(range(samples)), bufsize, initial, random.Random(samples))) == expected


def test_seeded_shuffle_is_webdatasets_with_its_seed() -> None:
    epoch = SharedEpoch(3)
    rng = random.Random(wds.utils.make_seed(5, 3, 1, 0, 1))
    expected = list(wds.shuffle(bufsize=40, initial=40, rng=rng)(iter(range(300))))
    assert list(seeded_shuffle(range(300), bufsize=40, seed=5, epoch=epoch, rank=1)) == expected
