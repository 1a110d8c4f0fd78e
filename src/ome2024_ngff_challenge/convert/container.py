"""Planning a container store: a plain Zarr v2 root group (no OME metadata)
with OME images, labels or plates somewhere below and other data beside them
(a SpatialData store, a webknossos dataset, or a kind we do not know).

The whole store is converted: every OME group migrated where it is, every
other group and array converted, every other file copied. Then the
container's own format markers are made what its library writes for a Zarr v3
store (``ome.containers``), so that the library still opens the output; one
warning line per store says which kind was recognised and what was updated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InputError
from ..ome import containers

if TYPE_CHECKING:
    from .planner import Planner


def plan_container(planner: Planner, attrs: dict) -> None:
    src = planner.src
    kind = containers.recognise(attrs, src.exists(containers.WEBKNOSSOS_PROPERTIES))
    planner.container_kind = kind
    planner.add_group("", attrs)
    if src.supports_listing:
        planner.add_unreferenced()
    elif kind == containers.WEBKNOSSOS:
        # the layers are listed in datasource-properties.json: no listing needed
        for layer in containers.webknossos_layers(src.get(containers.WEBKNOSSOS_PROPERTIES) or b""):
            if planner.is_group(layer) and "multiscales" in planner.attrs(layer):
                planner.image(layer, planner.attrs(layer), labels=True)
        planner.plan.copies.append(containers.WEBKNOSSOS_PROPERTIES)
    else:
        msg = (f"{src.describe()}: no OME metadata at the root (.zattrs has no multiscales, plate, well or "
               "bioformats2raw.layout), and a container store's OME groups cannot be found without listing it "
               "(HTTP cannot list): convert each OME group on its own")
        raise InputError(msg)
    found = sum(1 for g in planner.plan.groups if "multiscales" in g.attributes.get("ome", {})
                or "plate" in g.attributes.get("ome", {}))
    if not found:
        msg = (f"{src.describe()}: not an OME-Zarr 0.4 image, plate or bioformats2raw dataset "
               "(.zattrs has no multiscales, plate, well or bioformats2raw.layout, and no OME image or plate "
               "was found below it)")
        raise InputError(msg)
    what = {containers.SPATIALDATA: update_spatialdata, containers.WEBKNOSSOS: update_webknossos}.get(kind)
    if what is None:
        planner.log.warning("%s: a container store of a kind not known here (no OME metadata at the root): "
                            "%d OME images and plates below converted, its other groups, arrays and files "
                            "carried; its own format marker (if any) was left as it is", src.describe(), found)
    else:
        planner.log.warning("%s: %s", src.describe(), what(planner))
    planner.add_intermediate_groups()
    planner.assign_layouts()


def update_spatialdata(planner: Planner) -> str:
    """The groups' markers as spatialdata 0.8 writes them; what changed."""
    counts: dict[str, int] = {}
    version = planner.attrs("").get("spatialdata_attrs", {}).get("version")
    for group in planner.plan.groups:
        group.attributes, changed = containers.spatialdata_group(group.path, group.attributes)
        if changed:
            counts[changed] = counts.get(changed, 0) + 1
    planner.plan.consolidate = True  # in the root's zarr.json, as spatialdata 0.8 writes it
    copies = planner.plan.copies
    dropped = containers.SPATIALDATA_CONSOLIDATED in copies
    if dropped:
        copies.remove(containers.SPATIALDATA_CONSOLIDATED)
    parts = [f"container format {version} -> 0.2" if counts.pop("container", 0) else
             f"container format {version} kept"]
    rasters = counts.pop("raster", 0)
    parts.append(f"{rasters} images and labels in SpatialData's own OME flavour "
                 f"'{containers.SPATIALDATA_OME_VERSION}' (OME-Zarr 0.5 with transformations between coordinate "
                 "systems, which the OME-Zarr 0.5 validators reject; 'validate' notes it)")
    parts += [f"{n} {kind} to their Zarr v3 format" for kind, n in counts.items()]
    if dropped:
        parts.append(f"its Zarr v2 consolidated metadata '{containers.SPATIALDATA_CONSOLIDATED}' made Zarr v3's, "
                     "in the root's zarr.json")
    return ("a SpatialData store: converted whole as spatialdata 0.8 writes it for Zarr v3 (" + "; ".join(parts)
            + ")")


def update_webknossos(planner: Planner) -> str:
    """datasource-properties.json as webknossos writes it for Zarr v3 layers."""
    key = containers.WEBKNOSSOS_PROPERTIES
    raw = planner.src.get(key)
    updated = containers.webknossos_properties(raw) if raw is not None else None
    layers = sum(1 for g in planner.plan.groups if "multiscales" in g.attributes.get("ome", {}))
    if updated is None:
        return (f"a webknossos dataset: {layers} layers converted; {key} is not a JSON object with dataLayers: "
                "copied as it is (webknossos may not open the output)")
    if planner.in_place:
        return (f"a webknossos dataset: {layers} layers viewed as Zarr v3 in place; {key} was left as it is "
                "(it belongs to the input; webknossos reads the Zarr v2 layers it names)")
    data, changed = updated
    if key in planner.plan.copies:
        planner.plan.copies.remove(key)
    planner.plan.rewrites[key] = data
    return (f"a webknossos dataset: {layers} layers converted as webknossos 4.3 writes them for Zarr v3 "
            f"({key}: dataFormat 'zarr' -> 'zarr3' in {changed} layers)")
