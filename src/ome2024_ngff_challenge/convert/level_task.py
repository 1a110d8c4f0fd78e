"""Write one shard (or chunk) of an added level (``levels.AddedLevel``): the
unit of work of a level computed from the level above it.

The first added level reads the input's smallest level (its Zarr v2 chunks,
as the conversion of that level does); a further one reads the added level
above it where this conversion wrote it, one inner chunk at a time (a ranged
read of the shard: its index, then the chunk), so a task holds a few decoded
inner chunks of the level above, never a whole shard. Each inner chunk of
the output is reduced from the box of the level above that it covers
(``downsample``) and streamed into the shard as the conversion does.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..errors import OutputError
from ..stores.base import Store
from ..zarr.codecs import DecodeError
from ..zarr.sharding import EMPTY, parse_shard_index, shard_index_size
from .downsample import parent_box, reduce_block
from .levels import AddedLevel
from .shard_task import ChunkReader, SourceChunkCache, read_box, shard_complete, stream_task, task_key, write_task
from .stats import TaskResult


def run_task(job, index: tuple[int, ...], out: Store, resume: bool = False,
             reader: ChunkReader | None = None) -> TaskResult:
    """Write the shard (or chunk) at ``index`` of any array of a plan: one
    converted from the input (``shard_task.write_task``) or an added level.
    With ``resume``, one the output holds whole already is left as it is;
    ``reader``: that of a run of tasks this one belongs to (``ChunkReader.for_tasks``)."""
    if not isinstance(job, AddedLevel):
        return write_task(job, index, out, resume, reader)
    if resume and shard_complete(job, index, out):
        return TaskResult(skipped=True)
    return write_level_task(job, index, out, reader)


@dataclass
class _Meta:
    """What ``read_box`` reads of an array: its inner chunks and data type."""

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: np.dtype


class OutputLevel:
    """An added level as this conversion wrote it to the output, read inner
    chunk by inner chunk; it offers what ``SourceChunkCache`` and
    ``read_box`` use of a source array (``meta``, ``read_chunk_bytes``,
    ``decode_chunk``, ``read_region``)."""

    def __init__(self, job: AddedLevel, out: Store):
        self.job = job
        self.store = out
        self.chunks = job.layout.chunks
        self.meta = _Meta(job.shape, self.chunks, job.dtype)
        self.decoder = job.compression.encoder()
        self.tables: dict[tuple[int, ...], np.ndarray | None] = {}
        shards = job.layout.shards
        self.per_shard = None if shards is None else tuple(s // c for s, c in zip(shards, self.chunks))

    def describe(self) -> str:
        return self.store.describe(self.job.path)

    def table(self, shard: tuple[int, ...]) -> np.ndarray | None:
        """The index of one shard (None: not written, it holds only the fill value)."""
        if shard not in self.tables:
            key = task_key(self.job, shard)
            size = shard_index_size(self.per_shard, checksum=True)
            tail = self.store.get_tail(key, size)
            table = None
            if tail is not None:
                data, total = tail
                try:
                    table = parse_shard_index(data, self.per_shard, total - size, key)
                except DecodeError as e:
                    raise self.broken(f"{e}") from None
            self.tables[shard] = table
        return self.tables[shard]

    def read_chunk_bytes(self, index: tuple[int, ...]) -> bytes | None:
        """The stored bytes of one inner chunk (None: not stored)."""
        if self.per_shard is None:
            return self.store.get(task_key(self.job, index))
        shard = tuple(i // p for i, p in zip(index, self.per_shard))
        table = self.table(shard)
        if table is None:
            return None
        offset, nbytes = (int(v) for v in table[tuple(i % p for i, p in zip(index, self.per_shard))])
        if offset == EMPTY and nbytes == EMPTY:
            return None
        return self.store.get_range(task_key(self.job, shard), offset, nbytes)

    def decode_chunk(self, raw: bytes, index: tuple[int, ...]) -> np.ndarray:
        try:
            data = raw if self.decoder is None else self.decoder.decode(raw)
        except Exception as e:  # whatever a decoder throws at damaged bytes
            raise self.broken(f"inner chunk {list(index)} does not decode ({type(e).__name__}: {e})") from None
        chunk = np.frombuffer(data, dtype=self.meta.dtype)
        if chunk.size != math.prod(self.chunks):
            raise self.broken(f"inner chunk {list(index)} decodes to {chunk.size} values, not {math.prod(self.chunks)}")
        return chunk.reshape(self.chunks)

    def read_region(self, region: tuple[slice, ...], get_chunk) -> np.ndarray:
        """The values in ``region`` (step-1 slices within the level)."""
        out = np.empty(tuple(s.stop - s.start for s in region), dtype=self.meta.dtype)
        ranges = [range(s.start // c, -(-s.stop // c)) for s, c in zip(region, self.chunks)]
        for index in itertools.product(*ranges):
            inside, there = [], []
            for s, c, i in zip(region, self.chunks, index):
                lo, hi = max(s.start, i * c), min(s.stop, (i + 1) * c)
                inside.append(slice(lo - i * c, hi - i * c))
                there.append(slice(lo - s.start, hi - s.start))
            chunk = get_chunk(index)
            out[tuple(there)] = self.job.fill if chunk is None else chunk[tuple(inside)]
        return out

    def broken(self, what: str) -> OutputError:
        return OutputError(f"{self.describe()}: {what}: the output was changed while it was written; "
                           "convert it again from the start (overwrite)")


def parent_cache_bytes(job: AddedLevel) -> int:
    """Decoded chunks of the level above worth one row of this task's inner
    chunks (what a row reads, and where neighbouring inner chunks share a
    chunk above), and at least 16 MiB."""
    parent = job.parent
    rows = [2 * c if i in job.axes else c for i, c in enumerate(job.layout.chunks)]
    rows[-1] = 2 * job.write_shape[-1] if len(rows) - 1 in job.axes else job.write_shape[-1]
    above = parent.source.meta.chunks if not isinstance(parent, AddedLevel) else parent.layout.chunks
    count = math.prod(math.ceil(r / c) + 1 for r, c in zip(rows, above))
    return max(16 * 2**20, count * math.prod(above) * parent.item_nbytes)


def write_level_task(job: AddedLevel, index: tuple[int, ...], out: Store,
                     reader: ChunkReader | None = None) -> TaskResult:
    """Write the shard (or chunk) at ``index`` of the added level ``job``
    (``reader``: that of a run of tasks, which reads an input's chunks ahead)."""
    parent = job.parent
    from_output = isinstance(parent, AddedLevel)
    source = OutputLevel(parent, out) if from_output else parent.source
    own = None
    if not from_output and reader is None:  # from S3 or HTTP, the input's chunks are fetched ahead
        reader = own = ChunkReader.for_tasks([(job, index)], out)
    cache = SourceChunkCache(source, parent_cache_bytes(job), None if from_output else reader)

    def block(start: tuple[int, ...], stop: tuple[int, ...]) -> np.ndarray:
        a, b = parent_box(start, stop, job.axes, parent.shape)
        return reduce_block(read_box(cache, a, b, parent.fill), job.axes, job.method)

    try:
        return stream_task(job, index, out, block, cache)
    finally:
        if own is not None:
            own.close()
