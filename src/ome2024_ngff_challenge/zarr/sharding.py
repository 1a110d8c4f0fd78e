"""The shard index of the ``sharding_indexed`` codec: an (offset, nbytes) pair
of little-endian uint64 per inner chunk, in C order of the inner chunks, and its
crc32c; (EMPTY, EMPTY) marks an inner chunk that is not stored. Written by the
shard task, checked by readers and by resume."""

from __future__ import annotations

import math

import numpy as np

from .codecs import DecodeError, crc32c_bytes, transposed

EMPTY = 2**64 - 1


def new_shard_index(per_shard: tuple[int, ...]) -> np.ndarray:
    """An index with every inner chunk empty, shaped (chunks per shard, 2)."""
    return np.full((math.prod(per_shard), 2), EMPTY, dtype="<u8")


def encode_shard_index(table: np.ndarray) -> bytes:
    """The index as it is stored at the end of a shard: bytes, then crc32c."""
    raw = np.ascontiguousarray(table, dtype="<u8").tobytes()
    return raw + crc32c_bytes(raw)


def shard_index_size(per_shard: tuple[int, ...], checksum: bool | int) -> int:
    """Bytes of a shard index: (offset, nbytes) per inner chunk, and its
    crc32c (``checksum``: whether there is one, or how many)."""
    return 16 * math.prod(per_shard) + 4 * int(checksum)


def parse_shard_index(
    index: bytes, per_shard: tuple[int, ...], data_end: int, key: str, *, checksum: bool | int = True,
    endian: str | None = "little", transposes: list[tuple[int, ...]] = (),
) -> np.ndarray:
    """A shard index's bytes as a uint64 array shaped (*per_shard, 2), checked:
    its crc32c (``checksum``: whether there is one, or how many, the last
    written last), and every chunk it points to lying within the first
    ``data_end`` bytes of the shard (so not over the index itself);
    ``transposes`` are those of the index codecs. DecodeError otherwise.
    Readers use it on whole shards; resume uses it on a shard's last bytes only."""
    for _ in range(int(checksum)):
        body, stored = index[:-4], index[-4:]
        if stored != crc32c_bytes(body):
            msg = f"{key}: the shard index checksum (crc32c) does not match"
            raise DecodeError(msg)
        index = body
    order = ">" if endian == "big" else "<"
    shape = (*per_shard, 2)
    table = np.frombuffer(index, dtype=f"{order}u8").reshape(transposed(shape, list(transposes)))
    if transposes:
        perm = transposed(tuple(range(len(shape))), list(transposes))
        table = table.transpose(np.argsort(perm))
    used = table.reshape(-1, 2)
    used = used[~((used[:, 0] == EMPTY) & (used[:, 1] == EMPTY))]
    if used.size and bool((used[:, 0].astype(object) + used[:, 1].astype(object) > data_end).any()):
        msg = f"{key}: the shard index points past the end of the shard's data ({data_end} bytes)"
        raise DecodeError(msg)
    return table


