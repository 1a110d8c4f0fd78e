"""Write one shard (or, unsharded, one chunk) of an output array: the unit of work.

A shard is streamed inner chunk by inner chunk into an atomic writer, so memory
holds one inner chunk plus the decoded source chunks it is cut from, never the
whole shard. Inner chunks that hold nothing but the fill value are left out (the
index marks them empty; readers return the fill value), and a shard with no
data at all is not written, as Zarr does for empty chunks.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from ..stores.base import Store, join
from ..zarr.chunk_keys import chunk_key
from ..zarr.codecs import DecodeError, check_blosc_frame, vlen_decode, vlen_encode
from ..zarr.data_types import item_nbytes
from ..zarr.sharding import encode_shard_index, new_shard_index, parse_shard_index, shard_index_size
from ..zarr.v2 import SourceArray
from .levels import AddedLevel, parent_chunks_of
from .stats import TaskResult

if TYPE_CHECKING:
    from .plan import ArrayJob


# Reads of source chunks in flight ahead of the tasks, where each read waits a
# round trip (S3, HTTP): at least READ_AHEAD, and more while they are small (up
# to MAX_READ_AHEAD, and READ_AHEAD_BYTES of their decoded size, which bounds
# what they hold). The pool is shared by all tasks of the process; its threads
# only wait for the network.
READ_AHEAD = 8
MAX_READ_AHEAD = 64
READ_AHEAD_BYTES = 16 * 2**20
READ_THREADS = 64
_READ_POOL: cf.ThreadPoolExecutor | None = None
_READ_POOL_LOCK = threading.Lock()


def _read_pool() -> cf.ThreadPoolExecutor:
    global _READ_POOL
    with _READ_POOL_LOCK:
        if _READ_POOL is None:
            _READ_POOL = cf.ThreadPoolExecutor(READ_THREADS, thread_name_prefix="read-ahead")
        return _READ_POOL


class ChunkReader:
    """The stored bytes of the source chunks that a run of tasks reads (one
    task, or a batch of small ones run one after the other). From a store
    where each read waits a round trip (``preferred_concurrency``: S3, HTTP),
    the next chunks are fetched ahead, across the tasks' boundaries, so that
    a run's time is not the sum of its round trips; memory holds those few
    compressed chunks. From a local folder chunks are read when asked for."""

    def __init__(self, chunks: Iterable[tuple[SourceArray, tuple[int, ...]]]):
        self.ahead: dict[tuple[int, tuple[int, ...]], tuple[cf.Future, int]] = {}
        self.held = 0  # decoded size of the chunks read ahead
        # read already: not read ahead again when the order comes to them (a
        # task that reads them once more reads them when it asks)
        self.taken: set[tuple[int, tuple[int, ...]]] = set()
        self.order = iter(chunks)
        self._fill()

    @classmethod
    def for_tasks(cls, tasks: Iterable[tuple[ArrayJob, tuple[int, ...]]], out: Store) -> ChunkReader:
        """A reader for ``tasks``, run in this order, writing to ``out``: it reads
        ahead the chunks of those that read a remote source (not those whose
        chunks ``out`` copies without reading them)."""
        return cls(pair for job, index in tasks for pair in chunks_read_ahead(job, index, out))

    def _fill(self) -> None:
        while len(self.ahead) < READ_AHEAD or (len(self.ahead) < MAX_READ_AHEAD and self.held < READ_AHEAD_BYTES):
            item = next(self.order, None)
            if item is None:
                return
            source, index = item
            key = (id(source), index)
            if key not in self.ahead and key not in self.taken:
                size = source.meta.chunk_nbytes
                self.ahead[key] = (_read_pool().submit(source.read_chunk_bytes, index), size)
                self.held += size

    def read(self, source: SourceArray, index: tuple[int, ...]) -> bytes | None:
        key = (id(source), index)
        future, size = self.ahead.pop(key, (None, 0))
        self.held -= size
        self.taken.add(key)
        self._fill()
        if future is not None:
            return future.result()
        return source.read_chunk_bytes(index)

    def close(self) -> None:
        for future, _ in self.ahead.values():
            future.cancel()
        self.ahead.clear()
        self.held = 0


def chunks_read_ahead(job, index: tuple[int, ...], out: Store) -> list[tuple[SourceArray, tuple[int, ...]]]:
    """The input's chunks worth reading ahead for the task at ``index`` of
    ``job``: those of a remote source (not those ``out`` copies without
    reading them); for a level added below the smallest, those of the input's
    level it is computed from (none when it reads the output)."""
    if isinstance(job, AddedLevel):
        source, chunks = job.parent.source, parent_chunks_of(job, index)
    elif job.link and out.can_copy_from(job.source.store):
        return []
    else:
        source, chunks = job.source, source_chunks_of(job, index)
    if not chunks or not source.store.preferred_concurrency:
        return []
    return [(source, chunk) for chunk in chunks]


def source_chunks_of(job, index: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The source chunks the task at ``index`` reads, in the order it reads them
    (C order of the source chunks its box overlaps)."""
    write = job.write_shape
    src = job.source.meta.chunks
    ranges = []
    for i, w, c, s in zip(index, write, src, job.shape):
        lo, hi = i * w, min((i + 1) * w, s)
        ranges.append(range(lo // c, -(-hi // c)) if hi > lo else range(0))
    return list(itertools.product(*ranges))


class SourceChunkCache:
    """Decoded source chunks, least recently used dropped first.

    Consecutive inner chunks of a shard are usually cut from the same source
    chunks (when the output chunk is smaller than the source's, or misaligned);
    keeping them decoded avoids decoding one source chunk many times.
    """

    def __init__(self, source, capacity_bytes: int, reader: ChunkReader | None = None):
        self.source = source
        self.reader = reader
        self.capacity = max(capacity_bytes, 1)
        self.items: OrderedDict[tuple[int, ...], np.ndarray | None] = OrderedDict()
        self.held = 0
        self.bytes_read = 0

    def get(self, index: tuple[int, ...]) -> np.ndarray | None:
        if index in self.items:
            self.items.move_to_end(index)
            return self.items[index]
        raw = self.reader.read(self.source, index) if self.reader is not None else self.source.read_chunk_bytes(index)
        if raw is None:
            chunk = None
        else:
            self.bytes_read += len(raw)
            chunk = self.source.decode_chunk(raw, index)
        size = _held(chunk)
        while self.items and self.held + size > self.capacity:
            _, old = self.items.popitem(last=False)
            self.held -= _held(old)
        self.items[index] = chunk
        self.held += size
        return chunk


def _held(chunk: np.ndarray | None) -> int:
    """Memory a decoded chunk holds (an estimate for object arrays)."""
    return 0 if chunk is None else chunk.size * item_nbytes(chunk.dtype)


def read_box(
    cache: SourceChunkCache, start: tuple[int, ...], stop: tuple[int, ...], fill: np.ndarray
) -> np.ndarray:
    """The source values in [start, stop), C-contiguous, in the source's dtype."""
    meta = cache.source.meta
    src_chunks = meta.chunks
    if all(a % c == 0 and b - a == c for a, b, c in zip(start, stop, src_chunks)):
        # exactly one whole source chunk (the usual case): no copy at all
        chunk = cache.get(tuple(a // c for a, c in zip(start, src_chunks)))
        return chunk if chunk is not None else np.full(src_chunks, fill, dtype=meta.dtype)
    region = tuple(slice(a, b) for a, b in zip(start, stop))
    return cache.source.read_region(region, get_chunk=cache.get)


class FillTest:
    """Whether a block holds nothing but the fill value, bit for bit (so -0.0
    is not taken for a 0.0 fill, nor one NaN payload for another); for object
    arrays (strings, bytes), item for item."""

    def __init__(self, fill: np.ndarray):
        self.value = fill[()] if fill.dtype.kind == "O" else None
        if self.value is None:
            size = fill.dtype.itemsize
            word = next(w for w in (8, 4, 2, 1) if size % w == 0)
            self.view = f"u{word}"
            self.bits = np.ascontiguousarray(fill).reshape(1).view(self.view)

    def __call__(self, block: np.ndarray) -> bool:
        if self.value is not None:
            return self.objects_are_fill(block.reshape(-1))
        words = np.ascontiguousarray(block).reshape(-1).view(self.view).reshape(-1, self.bits.size)
        # most chunks hold data: their first or last voxel already differs, so
        # the full comparison (a pass over the chunk) is for the rare rest
        if (words[0] != self.bits).any() or (words[-1] != self.bits).any():
            return False
        return bool((words == self.bits).all())

    def objects_are_fill(self, items: np.ndarray) -> bool:
        value = self.value
        # a str never equals a bytes: the type is compared, too
        if not (type(items[0]) is type(value) and items[0] == value):
            return False
        return all(type(v) is type(value) and v == value for v in items)


def padded(block: np.ndarray, shape: tuple[int, ...], fill: np.ndarray) -> np.ndarray:
    """v3 chunks always have the full chunk shape; edge chunks are padded with fill."""
    if block.shape == shape:
        return block
    full = np.full(shape, fill, dtype=block.dtype)
    full[tuple(slice(0, n) for n in block.shape)] = block
    return full


def cache_capacity(job) -> int:
    """Enough decoded source chunks for one row of inner chunks across a shard
    (the reuse distance of C-order iteration), and at least 16 MiB."""
    meta = job.source.meta
    chunks = job.layout.chunks
    write = job.write_shape
    src_chunk_bytes = math.prod(meta.chunks) * item_nbytes(meta.dtype)
    row = 1
    for d, (c, w, s) in enumerate(zip(chunks, write, meta.chunks)):
        extent = w if d == len(chunks) - 1 else c
        row *= math.ceil(extent / s) + (1 if extent % s or c % s else 0)
    return max(16 * 2**20, (row + 1) * src_chunk_bytes)


def task_key(job, index: tuple[int, ...]) -> str:
    return join(job.path, chunk_key(index, *job.chunk_key_encoding))


def shard_complete(job, index: tuple[int, ...], out: Store) -> bool:
    """Whether the output already holds this task's shard (or chunk), whole.

    Writes are atomic and durable, so a present object is normally complete;
    still, what a crash or another program may have left is checked: for a
    shard its index at the end (its checksum, and every chunk it points to lying
    inside the object), one small ranged read; for an unsharded chunk, that it
    decodes to exactly one chunk (it is small: reading it costs little).
    """
    key = task_key(job, index)
    if job.link and out.can_copy_from(job.source.store):
        return out.exists(key)  # a link or server-side copy appears whole or not at all
    if job.layout.shards is None:
        return chunk_complete(job, out.get(key))
    per_shard = tuple(s // c for s, c in zip(job.layout.shards, job.layout.chunks))
    index_size = shard_index_size(per_shard, checksum=True)
    tail = out.get_tail(key, index_size)
    if tail is None:
        return False
    data, size = tail
    if size < index_size or len(data) != index_size:
        return False
    try:
        parse_shard_index(data, per_shard, size - index_size, key)
    except DecodeError:
        return False
    return True


def chunk_complete(job, raw: bytes | None) -> bool:
    """Whether ``raw`` is a whole encoded inner chunk of ``job``'s array."""
    if raw is None:
        return False
    n = math.prod(job.layout.chunks)
    decoder = job.compression.encoder()
    try:
        if decoder is None:
            data = raw
        else:
            if job.compression.name == "blosc":
                check_blosc_frame(raw)  # c-blosc would read past a truncated frame
            data = decoder.decode(raw)
        if job.vlen is not None:
            vlen_decode(data, n, job.vlen)  # DecodeError unless exactly n items
            return True
    except Exception:  # whatever a decoder throws at damaged bytes
        return False
    return memoryview(data).nbytes == n * job.dtype.itemsize


def link_chunk(job, index: tuple[int, ...], out: Store) -> TaskResult | None:
    """Unsharded byte copy where the output store can copy the source's chunk
    without reading it (a hard link, a server-side copy): the chunk is neither
    read nor decoded. None when it was not copied (no such chunk, or the
    stores could not copy after all): the caller reads it."""
    src_key = join(job.source.path, job.source.meta.chunk_key(index))
    size = out.copy_from(job.source.store, src_key, task_key(job, index))
    if size is None:
        return None
    return TaskResult(bytes_written=size, chunks_written=1)


def write_task(job, index: tuple[int, ...], out: Store, resume: bool = False,
               reader: ChunkReader | None = None) -> TaskResult:
    """Write the shard (or chunk) at grid position ``index`` of ``job``'s array.

    With ``resume``, a shard the output holds whole already is left as it is.
    ``reader``: the reader of a run of tasks this one belongs to (made with
    ``ChunkReader.for_tasks``), which may have read its chunks ahead already;
    without it the task reads ahead its own.
    """
    if resume and shard_complete(job, index, out):
        return TaskResult(skipped=True)
    if job.link and out.can_copy_from(job.source.store):
        linked = link_chunk(job, index, out)
        if linked is not None:
            return linked
    if reader is not None:
        return _write_task(job, index, out, reader)
    own = ChunkReader.for_tasks([(job, index)], out)
    try:
        return _write_task(job, index, out, own)
    finally:
        own.close()


def _write_task(job, index: tuple[int, ...], out: Store, reader: ChunkReader) -> TaskResult:
    cache = SourceChunkCache(job.source, cache_capacity(job), reader)
    fill = job.fill
    is_fill = FillTest(fill)
    chunks = job.layout.chunks

    def copied(start: tuple[int, ...]) -> bytes | None:
        """Byte copy: the source chunk's stored bytes, once they are known to
        decode to a whole chunk (a corrupt chunk is an error, never copied)."""
        src_index = tuple(a // c for a, c in zip(start, chunks))
        if any(i >= n for i, n in zip(src_index, job.source.meta.grid)):
            return None
        raw = reader.read(job.source, src_index)
        if raw is None:
            return None
        cache.bytes_read += len(raw)
        if is_fill(job.source.decode_chunk(raw, src_index)):
            return None
        return raw

    def block(start: tuple[int, ...], stop: tuple[int, ...]) -> np.ndarray:
        return read_box(cache, start, stop, fill)

    return stream_task(job, index, out, block, cache, copied if job.byte_copy else None)


def stream_task(job, index: tuple[int, ...], out: Store, block_of, counter,
                copied=None) -> TaskResult:
    """Write the shard (or chunk) at ``index`` of ``job``'s array, inner chunk
    by inner chunk: ``block_of(start, stop)`` gives the array's values in that
    box (``copied(start)``, when given, an inner chunk's encoded bytes as they
    are, or None); ``counter.bytes_read``: the bytes read for them."""
    result = TaskResult()
    fill = job.fill
    is_fill = FillTest(fill)
    encoder = job.compression.encoder()
    chunks = job.layout.chunks
    shape = job.shape
    key = task_key(job, index)

    def encoded(start: tuple[int, ...]) -> bytes | None:
        if copied is not None:
            return copied(start)
        stop = tuple(min(a + c, s) for a, c, s in zip(start, chunks, shape))
        if any(b <= a for a, b in zip(start, stop)):
            return None  # wholly outside the array (the edge of a shard)
        block = padded(block_of(start, stop), chunks, fill)
        if is_fill(block):
            return None
        if job.vlen is not None:  # the vlen codec first, then the compressor on its bytes
            serialized = vlen_encode(np.ascontiguousarray(block), job.vlen)
            return serialized if encoder is None else bytes(encoder.encode(serialized))
        if encoder is None:
            return block.tobytes()
        return bytes(encoder.encode(np.ascontiguousarray(block)))

    if job.layout.shards is None:
        start = tuple(i * c for i, c in zip(index, chunks))
        data = encoded(start)
        if data is not None:
            out.put(key, data)
            result.bytes_written = len(data)
            result.chunks_written = 1
        result.bytes_read = counter.bytes_read
        return result

    shards = job.layout.shards
    per_shard = tuple(s // c for s, c in zip(shards, chunks))
    origin = tuple(i * s for i, s in zip(index, shards))
    table = new_shard_index(per_shard)
    with contextlib.ExitStack() as stack:
        stream = None
        offset = 0
        for n, inner in enumerate(itertools.product(*(range(p) for p in per_shard))):
            start = tuple(o + i * c for o, i, c in zip(origin, inner, chunks))
            data = encoded(start)
            if data is None:
                continue
            if stream is None:
                stream = stack.enter_context(out.writer(key))
            stream.write(data)
            table[n] = (offset, len(data))
            offset += len(data)
            result.chunks_written += 1
        if stream is not None:
            index = encode_shard_index(table)
            stream.write(index)
            result.bytes_written = offset + len(index)
    result.bytes_read = counter.bytes_read
    return result
