"""Tar shards to samples, reading local (seekable) shards without tarfile's streaming layer.

WebDataset's ``tarfile_to_samples`` opens every shard with ``tarfile.open(mode="r|*")``, the
streaming mode that any pipe or socket needs. That mode pulls each member through 10 KiB blocks,
joins and slices them (three copies of every clip) and costs about as much CPU per clip as decoding
a WAV clip ten times over. A local shard is a seekable file, so here its headers are read in place:
a plain ustar header (what our shard writer writes) by ``_plain_header``, and from the first other
one on by tarfile's random-access mode (``"r:"``: PAX and GNU headers included), which took ten
times as long for a plain one (60% of the decode floor of a raw shard). The shard is mapped
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

import io
import mmap
import re
import tarfile
import zlib
from typing import IO, Any, Callable, Iterable, Iterator

from webdataset.tariterators import group_by_keys, tar_file_iterator

from datamodules.shard_check import open_shards

Sample = dict[str, Any]
Handler = Callable[[Exception], bool]
_SKIP = re.compile(r"__[^/]*__($|/)")  # WebDataset's skip_meta: members named __x__ are not data
_PREFIX = 345  # first byte of a ustar header's name prefix (tarfile joins any non-empty one to the name)
_HEAD = _PREFIX + 1  # the bytes of a header that the plain case reads
_END = ("", -1)  # _plain_header's end of the archive


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
    """``{"fname", "data"}`` of each regular member; headers parsed by ``_members_of``, data a view of the mapped shard.

    A member that runs past the end of the file is a truncated shard (a ReadError, as a short read
    is), so no view reaches a page the file does not have. ``handler`` is unused (errors end the
    shard in ``_members``); it keeps tar_file_iterator's signature.
    """
    shard = memoryview(mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ))
    for name, offset, size in _members_of(stream, lambda at: shard[at:at + tarfile.BLOCKSIZE], len(shard)):
        data = shard[offset:offset + size]
        _check_size(name, size, len(data))
        yield {"fname": name, "data": data}


def _read_members(stream: IO[bytes], handler: Handler) -> Iterator[Sample]:
    """As ``_mapped_members``, each header and each member's data read from the stream, the data into ``bytes``."""
    def block(at: int) -> bytes:
        stream.seek(at)
        return stream.read(tarfile.BLOCKSIZE)

    for name, offset, size in _members_of(stream, block, stream.seek(0, io.SEEK_END)):
        stream.seek(offset)
        data = stream.read(size)
        _check_size(name, size, len(data))
        yield {"fname": name, "data": data}


def _members_of(stream: IO[bytes], block: Callable[[int], Any], length: int) -> Iterator[tuple[str, int, int]]:
    """(name, data offset, size) of each data member of a ``length``-byte shard, ``block(offset)`` its 512 bytes there.

    What tarfile's random-access mode finds, at a tenth of its cost: a plain ustar header (a regular
    file, its checksum right, octal size, no prefix, the same name decoding) is parsed here, and at
    the first header that is anything else (PAX or GNU extensions, a directory, a base-256 number, a
    checksum it must look at twice) tarfile takes over from that offset to the end of the shard,
    with its own rules, errors and end-of-archive handling. Its rules for the plain case are kept:
    an all-zero, short or bad-checksum header ends the archive (a bad first header raises), and a
    header past the end of the file means the last member's data is cut (ReadError)."""
    offset = 0
    while True:
        if offset > length:
            raise tarfile.ReadError("unexpected end of data")
        header = _plain_header(block(offset))
        if header is _END and offset:  # a first block that ends the archive is tarfile's to judge
            return
        if header is None or header is _END:
            break
        name, size = header
        if not _SKIP.match(name):
            yield name, offset + tarfile.BLOCKSIZE, size
        offset += tarfile.BLOCKSIZE + -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    stream.seek(offset)
    archive = tarfile.open(fileobj=stream, mode="r:")  # it starts where the stream is
    for info in archive:
        archive.members = []  # memory stays flat however long the shard
        if info.isreg() and not _SKIP.match(info.name):
            yield info.name, info.offset_data, info.size


def _plain_header(data: Any) -> tuple[str, int] | None:
    """(name, size) of a plain ustar regular-file header; ``_END`` for a short or an all-zero block (the end of
    the archive, past its first block); None for anything tarfile must parse (an error there included)."""
    if len(data) < tarfile.BLOCKSIZE:
        return _END
    total = (zlib.adler32(data[:256]) & 0xFFFF) + (zlib.adler32(data[256:]) & 0xFFFF) - 2  # exact byte sums
    if total == 0:
        return _END
    head = bytes(data[:_HEAD])
    if head[156:157] not in (tarfile.REGTYPE, tarfile.AREGTYPE) or head[_PREFIX] or head[124] & 0x80:
        return None
    try:
        checksum, size = (int(head[a:b].split(b"\0", 1)[0].strip() or b"0", 8) for a, b in ((148, 156), (124, 136)))
    except ValueError:
        return None
    name = head[:100].split(b"\0", 1)[0].decode(tarfile.ENCODING, "surrogateescape")
    if checksum != total - sum(head[148:156]) + 8 * 32 or name.endswith("/"):
        return None
    return name, size


def _check_size(name: str, expected: int, size: int) -> None:
    if size != expected:
        raise tarfile.ReadError(f"{name}: {size} of {expected} bytes: truncated shard")
