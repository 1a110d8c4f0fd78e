"""A small picture of an image: one plane of its smallest pyramid level,
decoded with our own Zarr v3 reader and written as a PNG (numpy and zlib only).

The plane: the first time point, the middle z (and the first index of any other
non-spatial axis), every channel, the whole y/x extent; scaled (nearest pixel)
so that its longer side is at most ``MAX_SIDE``. Each channel is windowed from
its 0.1th to its 99.9th percentile and drawn in its omero color (active
channels only, when omero says which), or grey for one channel and
red/green/blue... for several; the channels are added and clipped.
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from ..stores.base import Store
from ..zarr.v3_read import V3Array

MAX_SIDE = 128
MAX_PLANE_PIXELS = 4096 * 4096  # a larger smallest level is not decoded
MAX_CHANNELS = 8
PERCENTILES = (0.1, 99.9)
DEFAULT_COLORS = ("FF0000", "00FF00", "0000FF", "FFFF00", "FF00FF", "00FFFF", "FF8000", "8000FF")
TWO_COLORS = ("00FF00", "FF00FF")


class ThumbnailError(Exception):
    """The image cannot be drawn (too large, undecodable data): the row says why."""


@dataclass
class Thumbnail:
    png: bytes
    width: int
    height: int


def thumbnail_size(height: int, width: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """(height, width) of the thumbnail of a plane of ``height`` x ``width``."""
    longest = max(height, width)
    if longest <= max_side:
        return height, width
    scale = max_side / longest
    return max(1, round(height * scale)), max(1, round(width * scale))


def _selection(shape: tuple[int, ...], types: list) -> tuple[list, int | None]:
    """Per axis: an index (fixed) or None (kept); and the channel axis. The
    last two axes are y and x."""
    n = len(shape)
    select: list = []
    channel = None
    for axis, (size, kind) in enumerate(zip(shape, types)):
        if axis >= n - 2:
            select.append(None)
        elif kind == "channel" and channel is None:
            select.append(None)
            channel = axis
        elif kind == "space":
            select.append(size // 2)
        else:
            select.append(0)
    return select, channel


def read_plane(store: Store, path: str, arr: V3Array, types: list) -> np.ndarray:
    """The plane to draw as (channels, y, x), float64 (complex: magnitude)."""
    shape = arr.shape
    if len(shape) < 2 or 0 in shape:
        raise ThumbnailError(f"an array of shape {list(shape)} has no plane to draw")
    if shape[-1] * shape[-2] > MAX_PLANE_PIXELS:
        raise ThumbnailError(f"its smallest level is {shape[-2]} x {shape[-1]} pixels: too large for a thumbnail")
    if len(types) != len(shape):
        types = [None] * len(shape)
    select, channel = _selection(shape, types)
    n_channels = min(shape[channel], MAX_CHANNELS) if channel is not None else 1
    out_shape = tuple(n_channels if a == channel else s for a, s in enumerate(shape) if select[a] is None)
    out = np.full(out_shape, arr.fill, dtype=arr.dtype)
    ranges = []
    for axis, (g, s) in enumerate(zip(arr.grid, shape)):
        if select[axis] is not None:
            ranges.append([select[axis] // g])
        elif axis == channel:
            ranges.append(range(math.ceil(n_channels / g)))
        else:
            ranges.append(range(math.ceil(s / g)))
    for index in itertools.product(*ranges):
        for region, values in arr.blocks_at(store, path, index):
            if values is None:
                continue
            take, put = [], []
            for axis, r in enumerate(region):
                if select[axis] is not None:
                    if not r.start <= select[axis] < r.stop:
                        break
                    take.append(select[axis] - r.start)
                    continue
                stop = min(r.stop, n_channels) if axis == channel else r.stop
                if stop <= r.start:
                    break
                take.append(slice(0, stop - r.start))
                put.append(slice(r.start, stop))
            else:
                out[tuple(put)] = values[tuple(take)]
    data = np.abs(out) if out.dtype.kind == "c" else out
    data = data.astype(np.float64)
    if channel is None:
        return data[np.newaxis]
    kept = [a for a in range(len(shape)) if select[a] is None]
    return np.moveaxis(data, kept.index(channel), 0)


def _rgb(color: object) -> np.ndarray | None:
    if isinstance(color, str) and len(color) in (6, 8):
        try:
            value = int(color[:6], 16)
        except ValueError:
            return None
        return np.array([(value >> 16) & 255, (value >> 8) & 255, value & 255], dtype=np.float64) / 255
    return None


def channel_colors(n: int, omero: object) -> list[np.ndarray | None]:
    """The color of each of ``n`` channels (None: not drawn), from omero when
    it describes them."""
    channels = omero.get("channels") if isinstance(omero, dict) else None
    if isinstance(channels, list) and len(channels) >= n and all(isinstance(c, dict) for c in channels[:n]):
        colors = [_rgb(c.get("color")) for c in channels[:n]]
        active = [c.get("active", True) is not False for c in channels[:n]]
        if any(active) and all(col is not None for col in colors):
            return [col if on else None for col, on in zip(colors, active)]
    if n == 1:
        return [np.ones(3)]
    names = TWO_COLORS if n == 2 else DEFAULT_COLORS
    return [_rgb(names[i % len(names)]) for i in range(n)]


def window(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(finite, PERCENTILES))
    if high <= low:
        high = low + 1.0
    return low, high


def render(plane: np.ndarray, omero: object) -> np.ndarray:
    """(channels, y, x) -> (h, w, 3) uint8, scaled to the thumbnail's size."""
    n, height, width = plane.shape
    h, w = thumbnail_size(height, width)
    rows = (np.arange(h) * height // h) if h != height else np.arange(height)
    cols = (np.arange(w) * width // w) if w != width else np.arange(width)
    small = plane[:, rows][:, :, cols]
    rgb = np.zeros((h, w, 3))
    for values, color in zip(small, channel_colors(n, omero)):
        if color is None:
            continue
        low, high = window(values)
        scaled = np.nan_to_num(np.clip((values - low) / (high - low), 0, 1), nan=0.0)
        rgb += scaled[:, :, np.newaxis] * color
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def png(rgb: np.ndarray) -> bytes:
    """A PNG of an (h, w, 3) uint8 array: 8-bit RGB, or 8-bit grey when the
    three channels are equal (a third of the size)."""
    height, width, _ = rgb.shape
    grey = bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]))
    pixels = rgb[..., 0] if grey else rgb

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + np.ascontiguousarray(row).tobytes() for row in pixels)  # filter 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if grey else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def thumbnail(store: Store, path: str, arr: V3Array, types: list, omero: object) -> Thumbnail:
    """The thumbnail of the array at ``path`` (the smallest level of an image
    whose axes have ``types``). ThumbnailError when it cannot be drawn; a
    DecodeError of the reader passes through."""
    rgb = render(read_plane(store, path, arr, types), omero)
    return Thumbnail(png(rgb), rgb.shape[1], rgb.shape[0])
