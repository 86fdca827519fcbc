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


def _tarfile_members(path: Path) -> list | str:
    """The reader before the plain-header parser: tarfile's random-access mode, each member read at its offset."""
    out = []
    try:
        with open(path, "rb") as stream:
            for info in tarfile.open(fileobj=stream, mode="r:"):
                if info.isreg() and not info.name.startswith("__"):
                    stream.seek(info.offset_data)
                    data = stream.read(info.size)
                    if len(data) != info.size:
                        raise tarfile.ReadError("truncated")
                    out.append((info.name, data))
    except tarfile.ReadError:
        out.append("ReadError")
    return out


def _our_members(path: Path, mapped: bool) -> list:
    from datamodules.tar_samples import _mapped_members, _read_members

    out = []
    try:
        with open(path, "rb") as stream:
            for member in (_mapped_members if mapped else _read_members)(stream, handler=wds.reraise_exception):
                out.append((member["fname"], bytes(member["data"])))
    except tarfile.ReadError:
        out.append("ReadError")
    return out


def _tar(path: Path, members: list[tuple[str, bytes, bytes]], fmt: int = tarfile.USTAR_FORMAT, mtime: float = 7,
         pax: dict[str, str] | None = None) -> bytes:
    """A tar of (name, type, data) members (a float ``mtime`` gives each a PAX header, ``pax`` the archive a
    global one); returns its bytes."""
    with tarfile.open(path, "w", format=fmt, pax_headers=pax) as archive:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mtime = kind, len(data), mtime
            archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path.read_bytes()


def test_plain_headers_are_read_as_tarfile_reads_them_and_the_rest_by_tarfile(tmp_path: Path) -> None:
    """The fast header parser and tarfile find the same members with the same data, and fail on the same shards:
    PAX, GNU and prefixed names, directories, odd sizes, a bad checksum first or later, cuts anywhere."""
    reg, sizes = tarfile.REGTYPE, (0, 1, 511, 512, 513, 3000)
    plain = [(f"k{n}.{ext}", reg, bytes([n]) * size) for n, size in enumerate(sizes) for ext in ("s16", "json")]
    long_name = "d/" + "x" * 120 + ".s16"
    cases = {
        "plain": _tar(tmp_path / "a.tar", plain),
        "PAX": _tar(tmp_path / "b.tar", plain, tarfile.PAX_FORMAT, mtime=0.5),
        "global PAX header": _tar(tmp_path / "g.tar", plain, tarfile.PAX_FORMAT, pax={"comment": "x"}),
        "GNU long name in the middle": _tar(tmp_path / "c.tar", [*plain[:3], (long_name, reg, b"ab"), *plain[3:]],
                                             tarfile.GNU_FORMAT),
        "ustar prefix": _tar(tmp_path / "d.tar", [*plain[:2], ("p" * 90 + "/" + "n" * 60, reg, b"cd"), *plain[2:]]),
        "directory first": _tar(tmp_path / "e.tar", [("dir", tarfile.DIRTYPE, b""), *plain]),
        "meta member and a utf-8 name": _tar(tmp_path / "f.tar", [("__meta__", reg, b"x"), ("clé.json", reg, b"{}"),
                                                                 *plain]),
    }
    data = cases["plain"]
    third = 2 * 512  # k1.s16's header (k0's two members are empty)
    cases["bad checksum later"] = data[:third + 148] + b"9999999\0" + data[third + 156:]
    cases["bad checksum first"] = b"9" + data[1:]
    cases["cut inside a header"] = data[:third + 100]
    cases["cut inside the padding"] = data[:third + 512 + 100]  # k1.s16's one byte and 99 of its padding bytes
    cases["cut inside data"] = data[:data.rindex(bytes([5]) * 3000) + 1000]
    end = -(-len(data.rstrip(b"\0")) // 512) * 512
    cases["no end-of-archive blocks"] = data[:end]
    cases["shorter than a header"] = data[:300]
    cases["zeros first"] = bytes(1024) + data
    for name, content in cases.items():
        path = tmp_path / "case.tar"
        path.write_bytes(content)
        expected = _tarfile_members(path)
        assert len(expected) > 1 or expected == ["ReadError"] or name == "zeros first", name
        for mapped in (True, False):
            assert _our_members(path, mapped) == expected, (name, mapped)
