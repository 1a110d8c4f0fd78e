"""Levels added below an image's smallest one (``add_levels``), as planned
arrays: a complete pyramid for the viewers that need one (ome-zarr.js draws
thumbnails only from a level of at most 1000x1000).

Each added level halves y and x (the last two spatial axes; an axis of size
1 stays as it is) of the level above it, until y and x are both at most
``add_levels`` pixels; a label image gets as many levels as its image (0.5
asks the same number of levels of both). The first added level is computed
from the input's smallest level, each further one from the added level above
it in the output, so its tasks run after that level's (``ArrayJob.stage``).

The multiscale gets one dataset per added level, named after the last one
("2" -> "3", "4"; "s2" -> "s3"; otherwise "LAST-added1", ...), whose scale
is the level above's doubled along the halved axes and whose translation
moves each pixel centre to the centre of the block it comes from:
t' = t + s / 2 along those axes (s, t: the level above's scale and
translation; a level without translation has t = 0).
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, UserError, option
from ..zarr.codecs import BLOSC_CNAMES, DEFAULT_COMPRESSION, Compression
from .downsample import MEAN, MODE, halved, parent_box
from .layout import Layout
from .plan import ArrayJob

DEFAULT_SIZE = 256
# what the statistics of an added array record about where it comes from
METHODS = {MEAN: "mean of each 2x2 block (y, x), integers rounded half to even; at odd edges over the pixels "
                 "that exist",
           MODE: "most frequent value of each 2x2 block (y, x), ties to the first in reading order (top-left)"}


def parse_add_levels(value: object) -> int | None:
    """The SIZE of ``add_levels``: None (no levels added), True (the default,
    256) or a positive integer (also as text)."""
    if value is None or value is False:
        return None
    if value is True:
        return DEFAULT_SIZE
    text = str(value).strip()
    if isinstance(value, int) or text.isdigit():
        size = int(text)
        if size >= 1:
            return size
    msg = (f"{option('add_levels', value)}: expected a positive integer, the largest y and x size of the smallest "
           f"level (default {DEFAULT_SIZE})")
    raise UserError(msg)


@dataclass
class LevelMeta:
    """The array metadata an added level has, as ``V2ArrayMeta`` gives it for
    a source array (what ``ArrayJob`` and the layout planning read)."""

    parent: ArrayJob
    shape: tuple[int, ...]
    order: str = "C"
    object_codec: None = None
    separator: str = "/"

    @property
    def dtype(self) -> np.dtype:
        return self.parent.dtype

    @property
    def chunks(self) -> tuple[int, ...]:
        """The level above's output chunks (clipped to this level): a chunk
        here is then computed from 2x2 whole chunks there."""
        return tuple(max(1, min(c, s)) for c, s in zip(self.parent.layout.chunks, self.shape))

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(math.ceil(s / c) for s, c in zip(self.shape, self.chunks))

    def fill_scalar(self) -> np.ndarray:
        return self.parent.fill


class LevelSource:
    """Where an added level comes from: the level above it (for ``ArrayJob.source``)."""

    def __init__(self, parent: ArrayJob, shape: tuple[int, ...], path: str):
        self.meta = LevelMeta(parent, shape)
        self.parent = parent
        self.path = path
        self.store = parent.source.store

    def describe(self) -> str:
        return f"{self.parent.source.describe()} (level '{self.path}' added below it)"


@dataclass
class AddedLevel(ArrayJob):
    """An array computed from the level above it (``parent``): its blocks of 2
    along ``axes`` reduced by ``method`` (``downsample``)."""

    parent: ArrayJob | None = None
    axes: tuple[int, ...] = ()
    method: str = MEAN

    @property
    def stage(self) -> int:
        """0 when computed from the input (it runs with the conversion), else
        one more than the added level it is computed from."""
        return self.parent.stage + 1 if isinstance(self.parent, AddedLevel) else 0

    def _listed_tasks(self) -> list[tuple[int, ...]] | None:
        """Below a level planned from a listing (a huge sparse array): only
        the shards under the level above's tasks, as the others compute to
        the fill value (not written); None when the level above has no list."""
        above = self.parent._listed_tasks()
        if above is None:
            return None
        cached = self.__dict__.get("_listed")
        if cached is not None and cached[0] == (self.write_shape, len(above)):
            return cached[1]
        found = set()
        for index in above:
            ranges = []
            for axis, (i, w, s, mine) in enumerate(zip(index, self.parent.write_shape, self.parent.shape,
                                                       self.write_shape)):
                lo, hi = i * w, min((i + 1) * w, s)
                if axis in self.axes:
                    lo, hi = lo // 2, -(-hi // 2)
                ranges.append(range(lo // mine, (hi - 1) // mine + 1))
            found.update(itertools.product(*ranges))
        tasks = sorted(found)
        self.__dict__["_listed"] = ((self.write_shape, len(above)), tasks)
        return tasks

    def provenance(self) -> dict:
        """What its statistics record about how it was made."""
        return {"added_level": {"from": self.parent.path, "reduction": self.method, "method": METHODS[self.method]}}


def parent_chunks_of(job: AddedLevel, index: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The chunks of the input's level that the task at ``index`` of an added
    level computed from it reads (C order); none for a level computed from
    another added level (it reads the output)."""
    parent = job.parent
    if isinstance(parent, AddedLevel):
        return []
    origin = tuple(i * w for i, w in zip(index, job.write_shape))
    stop = tuple(min(o + w, s) for o, w, s in zip(origin, job.write_shape, job.shape))
    lo, hi = parent_box(origin, stop, job.axes, parent.shape)
    ranges = [range(a // c, -(-b // c)) if b > a else range(0) for a, b, c in zip(lo, hi, parent.source.meta.chunks)]
    return list(itertools.product(*ranges))


def writable(compression: Compression) -> Compression:
    """The compression of an added level under a byte copy: the source's
    codec where it can be written, else the default."""
    if compression.name == "keep" or (compression.name == "blosc" and compression.cname not in BLOSC_CNAMES):
        return DEFAULT_COMPRESSION
    return compression


def yx_axes(axes: list) -> tuple[int, int] | None:
    """The indices of y and x: the last two spatial axes (by type; the last two
    axes when the types are not given); None with fewer than 2 axes."""
    spatial = [i for i, a in enumerate(axes) if isinstance(a, dict) and a.get("type") == "space"]
    if len(spatial) >= 2:
        return spatial[-2], spatial[-1]
    return (len(axes) - 2, len(axes) - 1) if len(axes) >= 2 else None


def levels_needed(shape: tuple[int, ...], yx: tuple[int, int], size: int) -> int:
    """How many halvings bring y and x to ``size`` or less."""
    count = 0
    while any(shape[a] > size for a in yx):
        shape = halved(shape, tuple(a for a in yx if shape[a] > 1))
        count += 1
    return count


def _transforms(dataset: dict, ndim: int, where: str) -> tuple[list[float], list[float]]:
    """(scale, translation) of a 0.4 dataset, given inline (a level without a
    translation has 0)."""
    scale, translation = [1.0] * ndim, [0.0] * ndim
    for transform in dataset.get("coordinateTransformations") or []:
        kind = transform.get("type") if isinstance(transform, dict) else None
        if kind not in ("scale", "translation"):
            continue
        values = transform.get(kind)
        if not isinstance(values, list) or len(values) != ndim:
            msg = (f"{where}: dataset '{dataset.get('path')}' gives its {kind} in a file or not for every axis: "
                   f"levels cannot be added below it ({option('add_levels')})")
            raise InputError(msg)
        if kind == "scale":
            scale = [float(v) for v in values]
        else:
            translation = [float(v) for v in values]
    return scale, translation


def level_names(last: str, taken: set[str], count: int) -> list[str]:
    """Paths for ``count`` levels after the dataset ``last``: its trailing
    number counted on (keeping its width), or ``LAST-addedN``; never a name in
    ``taken``."""
    match = re.fullmatch(r"(.*?)(\d+)", last)
    names, n = [], 0
    while len(names) < count:
        n += 1
        if match:
            prefix, digits = match.groups()
            name = f"{prefix}{int(digits) + n:0{len(digits)}d}"
        else:
            name = f"{last}-added{n}"
        if name not in taken and name.split("/")[0] not in taken:
            names.append(name)
    return names


def add_levels(image: str, attrs: dict, last_job: ArrayJob, size: int, count: int | None, *, is_label: bool,
               taken: set[str], where: str) -> tuple[dict, list[AddedLevel]]:
    """The image's attributes with the added levels in its first multiscale,
    and their arrays (not yet laid out). ``count``: how many (a label image's
    are its image's); None: as many as ``size`` needs. ``taken``: names in
    the image's folder that a new level must not take."""
    ms = attrs["multiscales"][0]
    yx = yx_axes(ms.get("axes") or [])
    if yx is None:
        return attrs, []
    if count is None:
        count = levels_needed(last_job.shape, yx, size)
    if count == 0:
        return attrs, []
    attrs = copy.deepcopy(attrs)
    datasets = attrs["multiscales"][0]["datasets"]
    ndim = len(last_job.shape)
    scale, translation = _transforms(datasets[-1], ndim, where)
    names = level_names(datasets[-1]["path"], taken | {d["path"] for d in datasets}, count)
    parent, jobs = last_job, []
    for name in names:
        axes = tuple(a for a in yx if parent.shape[a] > 1)
        shape = halved(parent.shape, axes)
        translation = [t + s / 2 if i in axes else t for i, (s, t) in enumerate(zip(scale, translation))]
        scale = [s * 2 if i in axes else s for i, s in enumerate(scale)]
        datasets.append({"path": name, "coordinateTransformations": [
            {"type": "scale", "scale": list(scale)}, {"type": "translation", "translation": list(translation)}]})
        path = f"{image}/{name}" if image else name
        job = AddedLevel(path=path, source=LevelSource(parent, shape, path), layout=Layout(shape, None),
                         compression=parent.compression, dimension_names=parent.dimension_names, attributes={},
                         parent=parent, axes=axes, method=MODE if is_label else MEAN)
        jobs.append(job)
        parent = job
    return attrs, jobs
