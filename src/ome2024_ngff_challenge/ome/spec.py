"""What OME-NGFF 0.4 and 0.5 share and where they differ, in one place: the
attribute keys the specification defines and the objects that carried their
own version in 0.4."""

from __future__ import annotations

SOURCE_VERSION = "0.4"
TARGET_VERSION = "0.5"

# Top-level attribute keys defined by OME-NGFF (including the bioformats2raw
# layout transitional keys); 0.4 has them in .zattrs, 0.5 under "ome".
OME_KEYS = (
    "multiscales",
    "omero",
    "labels",
    "image-label",
    "plate",
    "well",
    "bioformats2raw.layout",
    "series",
)

# Objects that carried their own spec "version" in 0.4 (and "multiscales", a
# list of such objects); 0.5 has the single "ome.version" instead.
VERSIONED_OBJECTS = ("omero", "image-label", "plate", "well")


def versioned_objects(zattrs: dict):
    """Yield every object of the group that may carry its own spec version."""
    multiscales = zattrs.get("multiscales")
    if isinstance(multiscales, list):
        for multiscale in multiscales:
            if isinstance(multiscale, dict):
                yield multiscale
    for key in VERSIONED_OBJECTS:
        value = zattrs.get(key)
        if isinstance(value, dict):
            yield value


# Where the OME-XML of a bioformats2raw layout lives.
OME_XML = "OME/METADATA.ome.xml"
