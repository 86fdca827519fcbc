"""Tar shards to samples, reading local (seekable) shards without tarfile's streaming layer.

WebDataset's ``tarfile_to_samples`` opens every shard with ``tarfile.open(mode="r|*")``, the
streaming mode that any pipe or socket needs. That mode pulls each member through 10 KiB blocks,
joins and slices them (three copies of every clip) and costs about as much CPU per clip as decoding
a WAV clip ten times over. A local shard is a seekable file, so here tarfile parses the headers in
random-access mode (``"r:"``: same parser, PAX and GNU headers included) and the shard is mapped
(``mmap``): each member is a read-only ``memoryview`` of the page cache, copied nowhere. A copy
(``read`` into a new ``bytes``) would put every clip in the heap twice over before its batch (the
shuffle buffer holds about 100 MB of them, which stream to DRAM and back, and glibc hands the freed
blocks back to the system, to be faulted in again: docs/performance.md). A mapping lives while any
view of it does (a sample in the shuffle buffer, a decoded int16 view of it), then closes. Streams
that cannot seek (``pipe:``, http) keep WebDataset's own iterator, and their members are ``bytes``;
both are bytes-like (``len``, ``==``, ``np.frombuffer``, ``io.BytesIO``; ``json.loads`` wants
``bytes(member)``). Shards are opened by datamodules/shard_check.py's ``open_shards`` (a missing
shard stops the run, naming it); grouping members into samples is WebDataset's.
"""
from __future__ import annotations

import mmap
import re
import tarfile
from typing import IO, Any, Callable, Iterable, Iterator

from webdataset.tariterators import group_by_keys, tar_file_iterator

from datamodules.shard_check import open_shards

Sample = dict[str, Any]
Handler = Callable[[Exception], bool]
_SKIP = re.compile(r"__[^/]*__($|/)")  # WebDataset's skip_meta: members named __x__ are not data


def tar_samples(src: Iterable[Sample], handler: Handler, mapped: bool = True) -> Iterator[Sample]:
    """``{"url": ...}`` items -> samples ``{"__key__", "__url__", ext: member, ...}``, as WebDataset's.

    A shard that cannot be opened raises MissingShardsError; errors inside one (a corrupt header, a
    truncated member) go to ``handler``: True skips the rest of that shard, False stops. A local
    shard's members are views of its mapping; ``mapped=False`` reads each into ``bytes`` instead
    (the reader before mappings, which benchmarks/bench_input.py's decode floor measures as well).
    """
    return group_by_keys(_members(open_shards(src), handler, mapped), handler=handler)


def _members(streams: Iterable[Sample], handler: Handler, mapped: bool) -> Iterator[Sample]:
    local = _mapped_members if mapped else _read_members
    for source in streams:
        stream, url = source["stream"], source["url"]
        members = local if _seekable(stream) else tar_file_iterator
        try:
            for member in members(stream, handler=handler):
                member["__url__"] = url
                yield member
            yield {}  # end of shard: group_by_keys must not merge samples of two shards
        except Exception as error:  # noqa: BLE001 - the handler decides, as in WebDataset
            error.args = (*error.args, url)
            if not handler(error):
                break
        finally:
            stream.close()


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _mapped_members(stream: IO[bytes], handler: Handler) -> Iterator[Sample]:
    """``{"fname", "data"}`` of each regular member; headers parsed by tarfile, data a view of the mapped shard.

    A member that runs past the end of the file is a truncated shard (a ReadError, as a short read
    is), so no view reaches a page the file does not have. ``handler`` is unused (errors end the
    shard in ``_members``); it keeps tar_file_iterator's signature.
    """
    shard = memoryview(mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ))
    for info in _regular(stream):
        data = shard[info.offset_data:info.offset_data + info.size]
        _check_size(info, len(data))
        yield {"fname": info.name, "data": data}


def _read_members(stream: IO[bytes], handler: Handler) -> Iterator[Sample]:
    """As ``_mapped_members``, each member's data read into ``bytes`` with one ``read`` at its offset."""
    for info in _regular(stream):
        stream.seek(info.offset_data)
        data = stream.read(info.size)
        _check_size(info, len(data))
        yield {"fname": info.name, "data": data}


def _regular(stream: IO[bytes]) -> Iterator[tarfile.TarInfo]:
    """The headers of the shard's data members, parsed by tarfile in random-access mode."""
    archive = tarfile.open(fileobj=stream, mode="r:")
    for info in archive:
        archive.members = []  # memory stays flat however long the shard
        if info.isreg() and not _SKIP.match(info.name):
            yield info


def _check_size(info: tarfile.TarInfo, size: int) -> None:
    if size != info.size:
        raise tarfile.ReadError(f"{info.name}: {size} of {info.size} bytes: truncated shard")
