"""The datamodule's tar reader: the same samples as WebDataset's on our shards, on PAX-header shards
(written before member mtimes became ints) and through pipes, mapped or read; a truncated shard goes to
the handler; a local shard's mapping lives exactly as long as a view of it does."""
from __future__ import annotations

import gc
import io
import mmap
import tarfile
import weakref
from functools import partial
from pathlib import Path

import pytest
import webdataset as wds

from data_preparation.shards.tar_writer import write_shards
from datamodules.tar_samples import tar_samples


def samples(count: int, size: int = 3000) -> list[dict]:
    return [{"__key__": f"clip{n:03d}", "s16": bytes([n % 251]) * (size + n), "json": b'{"n": %d}' % n}
            for n in range(count)]


def read(urls: list[str], reader) -> list[dict]:
    pipeline = wds.DataPipeline(wds.SimpleShardList(urls), reader)
    return [{k: v for k, v in s.items() if k != "__local_path__"} for s in pipeline]


def write_pax_tar(path: Path, items: list[dict]) -> None:
    """A tar as shards were written before: a float mtime gives every member a PAX header."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        for item in items:
            for ext in ("json", "s16"):
                info = tarfile.TarInfo(f"{item['__key__']}.{ext}")
                info.size, info.mtime = len(item[ext]), 0.0
                archive.addfile(info, io.BytesIO(item[ext]))


def test_same_samples_as_webdataset_on_new_old_and_piped_shards(tmp_path: Path) -> None:
    new = [str(tmp_path / p) for p in write_shards(samples(9), tmp_path, "train", 4)]
    old = tmp_path / "old.tar"
    write_pax_tar(old, samples(5))
    with tarfile.open(new[0]) as archive:
        assert all(member.pax_headers == {} for member in archive.getmembers())  # no PAX block per member
    with tarfile.open(old) as archive:
        assert all("mtime" in member.pax_headers for member in archive.getmembers())
    for urls, count in ((new, 9), ([str(old)], 5), ([f"pipe:cat {new[0]}", f"pipe:cat {old}"], 4 + 5)):
        for mapped in (True, False):
            ours = read(urls, partial(tar_samples, handler=wds.reraise_exception, mapped=mapped))
            assert ours == read(urls, wds.tarfile_to_samples()) and len(ours) == count
            assert all(s["s16"] == samples(9)[int(s["__key__"][4:])]["s16"] for s in ours)


def test_truncated_shard_goes_to_the_handler_and_the_next_shard_is_read(tmp_path: Path) -> None:
    paths = [tmp_path / p for p in write_shards(samples(6), tmp_path, "train", 3)]
    data = paths[0].read_bytes()
    paths[0].write_bytes(data[: 512 * 3 + 1000])  # cut inside clip000.s16, the second member
    errors: list[Exception] = []
    got = read([str(p) for p in paths], partial(tar_samples, handler=lambda e: errors.append(e) or True))
    assert [s["__key__"] for s in got] == ["clip000", "clip003", "clip004", "clip005"]
    assert len(errors) == 1 and "truncated" in str(errors[0]) and str(paths[0]) in str(errors[0].args)
    with pytest.raises(tarfile.ReadError, match="truncated"):
        read([str(paths[0])], partial(tar_samples, handler=wds.reraise_exception))
    with pytest.raises(tarfile.ReadError, match="truncated"):
        read([str(paths[0])], partial(tar_samples, handler=wds.reraise_exception, mapped=False))


def test_local_members_are_views_of_one_mapping_that_closes_with_the_last_view(tmp_path: Path) -> None:
    """No member is copied out of a local shard; a sample kept (a shuffle buffer's) keeps the mapping, and with
    it the data, even once the shard is deleted; when the last view goes, the mapping goes."""
    path = tmp_path / write_shards(samples(4, size=9000), tmp_path, "train", 4)[0]
    kept = read([str(path)], partial(tar_samples, handler=wds.reraise_exception))
    views = [sample[ext] for sample in kept for ext in ("s16", "json")]
    assert all(isinstance(view, memoryview) and view.readonly for view in views)
    mapping = views[0].obj
    assert isinstance(mapping, mmap.mmap) and all(view.obj is mapping for view in views)  # one mapping per shard
    gone = weakref.ref(mapping)
    path.unlink()
    last = kept[-1]["s16"]
    del kept, views, mapping
    gc.collect()
    assert gone() is not None and last == samples(4, size=9000)[3]["s16"]
    del last
    gc.collect()
    assert gone() is None
    read_back = read([str(tmp_path / p) for p in write_shards(samples(2), tmp_path, "t", 2)],
                     partial(tar_samples, handler=wds.reraise_exception, mapped=False))
    assert all(type(sample["s16"]) is bytes for sample in read_back)
