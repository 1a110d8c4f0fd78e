"""Chunk and shard shapes: the automatic choice and requested shapes fitted per level."""

from __future__ import annotations

import math

import checks
import pytest

from ome2024_ngff_challenge.errors import UserError
from ome2024_ngff_challenge.convert.layout import (
    SHARD_TARGET_BYTES,
    auto_layout,
    check_multiple,
    fit_to_level,
    parse_shape,
)

SHAPES = [
    ((1, 2, 32, 4096, 4096), (1, 1, 1, 1024, 1024), 2),
    ((1, 1, 1, 91, 141), (1, 1, 1, 91, 141), 2),
    ((2, 2, 3, 364, 564), (1, 1, 1, 256, 256), 2),
    ((100000, 100000), (1024, 1024), 1),
    ((7,), (100,), 8),
    ((3, 0, 5), (1, 1, 5), 4),
    ((1, 1, 1, 20000, 20000), (1, 1, 1, 20000, 20000), 2),
]


@pytest.mark.parametrize(("shape", "source_chunks", "itemsize"), SHAPES)
def test_auto_layout_is_always_valid(shape, source_chunks, itemsize):
    layout = auto_layout(shape, itemsize, source_chunks)
    assert len(layout.chunks) == len(shape) == len(layout.shards)
    for c, sh, s in zip(layout.chunks, layout.shards, shape):
        assert sh % c == 0
        assert 1 <= c <= max(1, s)
        assert sh <= max(c, math.ceil(s / c) * c)
    assert math.prod(layout.chunks) * itemsize <= 32 * 2**20
    assert math.prod(layout.shards) * itemsize <= max(SHARD_TARGET_BYTES, math.prod(layout.chunks) * itemsize)


def test_auto_layout_grows_spatial_axes_first():
    layout = auto_layout((1, 2, 32, 4096, 4096), 2, (1, 1, 1, 1024, 1024))
    assert layout.chunks == (1, 1, 1, 1024, 1024)
    assert layout.shards[3:] == (4096, 4096)
    assert layout.shards[:2] == (1, 1)


def test_auto_layout_keeps_whole_odd_level():
    layout = auto_layout((1, 1, 1, 91, 141), 2, (1, 1, 1, 91, 141))
    assert layout.chunks == (1, 1, 1, 91, 141)
    assert layout.shards[-2:] == (91, 141)


def test_fit_to_level_clips_and_keeps_multiples():
    assert fit_to_level((1, 1, 1, 256, 256), (1, 1, 1, 2048, 2048), (1, 1, 1, 91, 141)).shards == (1, 1, 1, 91, 141)
    layout = fit_to_level((1, 1, 1, 256, 256), (1, 1, 1, 2048, 2048), (1, 1, 1, 300, 600))
    assert layout.chunks == (1, 1, 1, 256, 256)
    assert layout.shards == (1, 1, 1, 512, 768)
    assert fit_to_level((256, 256), None, (100, 1000)).chunks == (100, 256)


def test_fit_to_level_right_aligns_other_lengths():
    assert fit_to_level((1, 1, 1, 64, 64), (1, 1, 1, 128, 128), (3, 200, 200)).chunks == (1, 64, 64)
    assert fit_to_level((64, 64), (128, 128), (2, 3, 200, 200)).shards == (1, 1, 128, 128)


def test_options_parsed_and_checked():
    assert parse_shape("1,1,256", "chunks") == (1, 1, 256)
    assert parse_shape("none", "shards", allow_none=True) == "none"
    for bad in ("1,x", "0,5", "", "-1"):
        assert checks.cli_error(lambda: parse_shape(bad, "chunks")).startswith(f"--output-chunks={bad}: ")
    with pytest.raises(UserError, match="not a multiple"):
        check_multiple((1, 30), (1, 45), "--output-shards")
