"""Container stores: a plain Zarr group (no OME metadata at its root) that
holds OME images, labels or plates below it beside data of its own. Which
kind a store is, and the container's own format markers as its library writes
them for a Zarr v3 store, as plain functions on dicts.

Known kinds (notes in tests/realworld_notes/containers.md):

- SpatialData (scverse): the root's ``spatialdata_attrs`` say it. spatialdata
  0.8 reads a Zarr v3 store only with the container version "0.2", and reads
  the OME groups of such a store only when their ``ome.version`` is its own
  flavour "0.5-dev-spatialdata" (0.5 with coordinate transformations between
  coordinate systems at the multiscales level, which the OME-Zarr 0.5 schemas
  reject). Its elements' own versions move as spatialdata 0.8 writes them:
  images and labels 0.3, shapes 0.3 (from the parquet 0.2; the 0.1 arrays
  stay 0.1), points 0.2, tables 0.2.
- webknossos: ``datasource-properties.json`` at the root lists the layers
  (each an OME image); a Zarr v3 layer says ``"dataFormat": "zarr3"``.

Any other plain root is a container of an unknown kind: converted by the
generic rule (OME groups migrated, the rest carried), its markers left as
they are.
"""

from __future__ import annotations

import copy
import json

SPATIALDATA = "SpatialData"
WEBKNOSSOS = "webknossos"
UNKNOWN = "unknown"

WEBKNOSSOS_PROPERTIES = "datasource-properties.json"
# spatialdata's own consolidated metadata of a Zarr v2 store (v3 readers read
# every node's zarr.json instead): stale once converted, not carried
SPATIALDATA_CONSOLIDATED = "zmetadata"
# the OME version spatialdata 0.8 writes (and needs) for images and labels
# of a Zarr v3 store
SPATIALDATA_OME_VERSION = "0.5-dev-spatialdata"
# element format versions: (what spatialdata writes to Zarr v2 -> to Zarr v3)
_SPATIALDATA_CONTAINER = {"0.1": "0.2"}
_SPATIALDATA_RASTER = {"0.1": "0.3", "0.2": "0.3"}
_SPATIALDATA_SHAPES = {"0.2": "0.3"}  # 0.1 (coordinates in Zarr arrays) is read as it is
_SPATIALDATA_POINTS = {"0.1": "0.2"}
_SPATIALDATA_TABLES = {"0.1": "0.2"}


def recognise(root_attrs: dict, has_webknossos_properties: bool) -> str:
    """The kind of container a plain root group is."""
    if isinstance(root_attrs.get("spatialdata_attrs"), dict):
        return SPATIALDATA
    if has_webknossos_properties:
        return WEBKNOSSOS
    return UNKNOWN


def _move(holder: dict, key: str, moves: dict[str, str]) -> bool:
    """Replace ``holder[key]`` by its newer value; whether it changed."""
    old = holder.get(key)
    if isinstance(old, str) and old in moves:
        holder[key] = moves[old]
        return True
    return False


def spatialdata_group(path: str, attributes: dict) -> tuple[dict, str | None]:
    """A converted group's attributes as spatialdata 0.8 writes them for a
    Zarr v3 store, and what changed (one of "container", "raster", "shapes",
    "points", "tables"), or None where nothing did."""
    out = copy.deepcopy(attributes)
    sd_attrs = out.get("spatialdata_attrs")
    ome = out.get("ome")
    if path == "":
        if isinstance(sd_attrs, dict) and _move(sd_attrs, "version", _SPATIALDATA_CONTAINER):
            return out, "container"
        return out, None
    if isinstance(ome, dict) and "multiscales" in ome:
        ome["version"] = SPATIALDATA_OME_VERSION
        if isinstance(sd_attrs, dict):
            _move(sd_attrs, "version", _SPATIALDATA_RASTER)
        return out, "raster"
    encoding = out.get("encoding-type")
    if encoding == "ngff:shapes" and isinstance(sd_attrs, dict):
        return out, "shapes" if _move(sd_attrs, "version", _SPATIALDATA_SHAPES) else None
    if encoding == "ngff:points" and isinstance(sd_attrs, dict):
        return out, "points" if _move(sd_attrs, "version", _SPATIALDATA_POINTS) else None
    if out.get("spatialdata-encoding-type") == "ngff:regions_table" or \
            (encoding == "anndata" and path.startswith("tables/") and path.count("/") == 1):
        return out, "tables" if _move(out, "version", _SPATIALDATA_TABLES) else None
    return out, None


def webknossos_properties(raw: bytes) -> tuple[bytes, int] | None:
    """``datasource-properties.json`` with each Zarr v2 layer's dataFormat
    "zarr" made "zarr3" (as webknossos writes it; the JSON indented by 4 as
    webknossos does), and how many layers changed; None when it is not a JSON
    object with a list of layers."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    layers = doc.get("dataLayers") if isinstance(doc, dict) else None
    if not isinstance(layers, list):
        return None
    changed = sum(_move(layer, "dataFormat", {"zarr": "zarr3"}) for layer in layers if isinstance(layer, dict))
    return json.dumps(doc, indent=4).encode(), changed


def webknossos_layers(raw: bytes) -> list[str]:
    """The layer names ``datasource-properties.json`` lists (each an OME
    image group at the root), for a store that cannot be listed."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return []
    layers = doc.get("dataLayers") if isinstance(doc, dict) else None
    return [layer["name"] for layer in layers or [] if isinstance(layer, dict) and isinstance(layer.get("name"), str)
            and layer["name"] and "/" not in layer["name"] and layer["name"] not in (".", "..")]


def flavour(ome: dict) -> str | None:
    """The container's own OME flavour a group of a converted store is in
    (which the OME-Zarr 0.5 schemas do not describe), or None for plain 0.5."""
    version = ome.get("version")
    if version == SPATIALDATA_OME_VERSION:
        return SPATIALDATA
    return None


def as_plain_05(ome: dict) -> dict:
    """A flavoured group's OME metadata reduced to what 0.5 describes (the
    version 0.5, without the multiscales-level transformations between
    coordinate systems), so that the rest is checked by the 0.5 rules."""
    out = copy.deepcopy(ome)
    out["version"] = "0.5"
    for ms in out.get("multiscales") or []:
        if isinstance(ms, dict) and _between_systems(ms.get("coordinateTransformations")):
            ms.pop("coordinateTransformations")
    return out


def _between_systems(transforms) -> bool:
    return isinstance(transforms, list) and any(isinstance(t, dict) and ("input" in t or "output" in t)
                                                for t in transforms)


def without_coordinate_systems(zattrs: dict) -> tuple[dict, list[str]]:
    """An OME group outside its container (converted alone): multiscales-level
    transformations between named coordinate systems (SpatialData's, with
    input/output) are not OME-Zarr 0.5, so they are left out, a repair."""
    notes = []
    multiscales = zattrs.get("multiscales")
    if not isinstance(multiscales, list):
        return zattrs, notes
    out = copy.deepcopy(zattrs)
    for n, ms in enumerate(out["multiscales"]):
        if isinstance(ms, dict) and _between_systems(ms.get("coordinateTransformations")):
            ms.pop("coordinateTransformations")
            notes.append(f"multiscales[{n}]: coordinateTransformations between coordinate systems (input/output, "
                         "as a SpatialData store holds them) are not OME-Zarr 0.5: left out")
    return (out, notes) if notes else (zattrs, notes)
