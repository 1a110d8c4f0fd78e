import copy
import json

import pytest

from ome2024_ngff_challenge.errors import InputError
from ome2024_ngff_challenge.ome.migrate import migrate_attributes
from ome2024_ngff_challenge.ome.spec import OME_KEYS
from ome2024_ngff_challenge.ome.v04 import (
    bioformats2raw_series,
    check_multiscales,
    check_version,
    dimension_names,
    image_dataset_paths,
    labels_list,
    plate_wells,
    well_images,
)

WHERE = "data/img.zarr/0"


def image_zattrs():
    """A 0.4 image group with spec versions in every place they can appear."""
    return {
        "multiscales": [
            {
                "version": "0.4",
                "name": "Zellkern µm ✓",
                "axes": [
                    {"name": "c", "type": "channel"},
                    {"name": "y", "type": "space", "unit": "micrometer"},
                    {"name": "x", "type": "space", "unit": "micrometer"},
                ],
                "datasets": [
                    {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 0.5, 0.5]}]},
                    {
                        "path": "1",
                        "coordinateTransformations": [
                            {"type": "scale", "scale": [1, 1.0, 1.0]},
                            {"type": "translation", "translation": [0, 0.25, 0.25]},
                        ],
                    },
                ],
                "metadata": {"method": "loci.common.image.SimpleImageScaler", "version": "Bio-Formats 6.5.1"},
            }
        ],
        "omero": {"version": "0.4", "channels": [{"label": "DAPI ü", "color": "0000FF"}], "rdefs": {}},
        "image-label": {"version": "0.4", "colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}]},
        "foo": {"bar": [1, 2]},
    }


def count_key(value, key):
    """How many dicts anywhere inside value have the given key."""
    if isinstance(value, dict):
        return (key in value) + sum(count_key(v, key) for v in value.values())
    if isinstance(value, list):
        return sum(count_key(v, key) for v in value)
    return 0


def test_image_versions_collapse_to_one():
    attrs = migrate_attributes(image_zattrs())
    ome = attrs["ome"]
    assert ome["version"] == "0.5"
    assert "version" not in ome["multiscales"][0]
    assert "version" not in ome["omero"]
    assert "version" not in ome["image-label"]
    # the only other "version" left is the Bio-Formats one
    assert count_key(ome, "version") == 2
    assert ome["multiscales"][0]["metadata"]["version"] == "Bio-Formats 6.5.1"


def test_everything_else_kept():
    source = image_zattrs()
    attrs = migrate_attributes(source)
    assert set(attrs) == {"ome", "foo"}
    assert attrs["foo"] == {"bar": [1, 2]}
    assert list(attrs["ome"]) == ["version", "multiscales", "omero", "image-label"]
    expected = copy.deepcopy(source["multiscales"][0])
    del expected["version"]
    assert attrs["ome"]["multiscales"][0] == expected
    assert attrs["ome"]["multiscales"][0]["name"] == "Zellkern µm ✓"
    assert attrs["ome"]["omero"]["channels"][0]["label"] == "DAPI ü"
    # survives a JSON round trip unchanged, unicode included
    assert json.loads(json.dumps(attrs, ensure_ascii=False)) == attrs


def test_input_not_modified():
    source = image_zattrs()
    before = copy.deepcopy(source)
    result = migrate_attributes(source, creator={"name": "tool", "version": "1"})
    assert source == before
    # and the result shares nothing mutable with the input
    result["ome"]["multiscales"][0]["axes"].append({"name": "z"})
    assert source == before


def test_plate_and_well_versions_removed():
    plate = {"plate": {"version": "0.4", "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}]}}
    well = {"well": {"version": "0.4", "images": [{"path": "0", "acquisition": 1}]}}
    assert migrate_attributes(plate) == {
        "ome": {"version": "0.5", "plate": {"wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}]}}
    }
    assert migrate_attributes(well) == {"ome": {"version": "0.5", "well": {"images": [{"path": "0", "acquisition": 1}]}}}


def test_labels_series_layout_kept():
    assert migrate_attributes({"labels": ["cells", "nuclei"]}) == {
        "ome": {"version": "0.5", "labels": ["cells", "nuclei"]}
    }
    root = {"bioformats2raw.layout": 3, "other": True}
    assert migrate_attributes(root) == {"ome": {"version": "0.5", "bioformats2raw.layout": 3}, "other": True}
    assert migrate_attributes({"series": ["0", "1"]}) == {"ome": {"version": "0.5", "series": ["0", "1"]}}


def test_plain_group_gets_no_ome():
    assert migrate_attributes({}) == {}
    assert migrate_attributes({"foo": 1}) == {"foo": 1}


def test_creator():
    creator = {"name": "ome2024-ngff-challenge", "version": "2.0"}
    attrs = migrate_attributes({"labels": []}, creator=creator)
    assert attrs == {"ome": {"version": "0.5", "labels": [], "_creator": creator}}
    assert migrate_attributes({}, creator=creator) == {"ome": {"version": "0.5", "_creator": creator}}


def test_ome_keys():
    assert set(OME_KEYS) == {
        "multiscales", "omero", "labels", "image-label", "plate", "well", "bioformats2raw.layout", "series",
    }


def test_check_version_accepts_04_and_missing():
    check_version(image_zattrs(), WHERE)
    check_version({"multiscales": [{"axes": []}], "foo": {"version": "9"}}, WHERE)
    check_version({}, WHERE)


@pytest.mark.parametrize(
    "zattrs",
    [
        {"multiscales": [{"version": "0.3"}]},
        {"multiscales": [{"version": "0.4"}, {"version": "0.5"}]},
        {"omero": {"version": "0.1"}},
        {"image-label": {"version": "0.5"}},
        {"plate": {"version": "0.3"}},
        {"well": {"version": "0.2"}},
        {"multiscales": [{"version": 0.4}]},
    ],
)
def test_check_version_rejects(zattrs):
    with pytest.raises(InputError) as info:
        check_version(zattrs, WHERE)
    message = str(info.value)
    assert message.startswith(WHERE + ":")
    assert "version" in message and "\n" not in message


def test_check_version_message():
    with pytest.raises(InputError, match=r"^data/img.zarr/0: OME-NGFF version 0.3 is not supported"):
        check_version({"multiscales": [{"version": "0.3"}]}, WHERE)


def test_check_multiscales_valid():
    zattrs = image_zattrs()
    multiscales = check_multiscales(zattrs, WHERE)
    assert multiscales is zattrs["multiscales"]
    assert dimension_names(multiscales[0]) == ["c", "y", "x"]
    assert image_dataset_paths(zattrs) == ["0", "1"]


def with_change(change):
    zattrs = image_zattrs()
    change(zattrs["multiscales"][0])
    return zattrs


@pytest.mark.parametrize(
    ("zattrs", "problem"),
    [
        ({}, "no 'multiscales'"),
        ({"multiscales": []}, "non-empty list"),
        ({"multiscales": {"axes": []}}, "non-empty list"),
        ({"multiscales": ["0"]}, "must be an object"),
        (with_change(lambda m: m.pop("axes")), "no 'axes'"),
        (with_change(lambda m: m.pop("datasets")), "no 'datasets'"),
        (with_change(lambda m: m.update(axes=["c", "y", "x"])), "0.3"),
        (with_change(lambda m: m.update(axes=[{"type": "space"}])), "string 'name'"),
        (with_change(lambda m: m.update(axes=[{"name": 1}])), "string 'name'"),
        (with_change(lambda m: m.update(axes="cyx")), "non-empty list"),
        (with_change(lambda m: m["axes"].append({"name": "y"})), "duplicate names: y"),
        (with_change(lambda m: m.update(datasets=[])), "datasets must be a non-empty list"),
        (with_change(lambda m: m["datasets"].append({"scale": 2})), "string 'path'"),
        (with_change(lambda m: m["datasets"].append({"path": 2})), "string 'path'"),
        (with_change(lambda m: m["datasets"].append({"path": "../escape"})), "not a relative path"),
        (with_change(lambda m: m["datasets"].append({"path": "/abs"})), "not a relative path"),
        (
            with_change(lambda m: m["datasets"][0].update(coordinateTransformations={"type": "scale"})),
            "coordinateTransformations must be a list",
        ),
        (
            with_change(lambda m: m["datasets"][0].update(coordinateTransformations=[{"type": "scale", "scale": [1, 1]}])),
            "datasets[0].coordinateTransformations[0].scale has 2 values but there are 3 axes",
        ),
        (
            with_change(lambda m: m["datasets"][1]["coordinateTransformations"][1].update(translation=[0, 0, 0, 0])),
            "datasets[1].coordinateTransformations[1].translation has 4 values but there are 3 axes",
        ),
        (
            with_change(lambda m: m.update(coordinateTransformations=[{"type": "scale", "scale": [2]}])),
            "multiscales[0].coordinateTransformations[0].scale has 1 values",
        ),
    ],
)
def test_check_multiscales_errors(zattrs, problem):
    with pytest.raises(InputError) as info:
        check_multiscales(zattrs, WHERE)
    message = str(info.value)
    assert message.startswith(WHERE + ":")
    assert problem in message
    assert "\n" not in message


def test_image_dataset_paths_all_multiscales_deduplicated():
    zattrs = {
        "multiscales": [
            {"axes": [{"name": "x"}], "datasets": [{"path": "0"}, {"path": "1"}]},
            {"axes": [{"name": "x"}], "datasets": [{"path": "1"}, {"path": "2"}]},
        ]
    }
    assert image_dataset_paths(zattrs) == ["0", "1", "2"]


def test_labels_list():
    assert labels_list({"labels": ["cells", "nuclei"]}, WHERE) == ["cells", "nuclei"]
    assert labels_list({"labels": []}, WHERE) == []
    for bad in ({}, {"labels": "cells"}, {"labels": [1]}, {"labels": [".."]}):
        with pytest.raises(InputError, match=f"^{WHERE}: "):
            labels_list(bad, WHERE)


def test_plate_wells_and_well_images():
    plate = {"plate": {"wells": [{"path": "A/1"}, {"path": "B/12"}], "rows": [], "columns": []}}
    assert plate_wells(plate, WHERE) == ["A/1", "B/12"]
    well = {"well": {"images": [{"path": "0"}, {"path": "1"}]}}
    assert well_images(well, WHERE) == ["0", "1"]
    for bad in ({}, {"plate": []}, {"plate": {}}, {"plate": {"wells": [{"row": "A"}]}}, {"plate": {"wells": [{"path": "../A"}]}}):
        with pytest.raises(InputError, match=f"^{WHERE}: "):
            plate_wells(bad, WHERE)
    for bad in ({}, {"well": {"images": "0"}}, {"well": {"images": [{"path": 0}]}}):
        with pytest.raises(InputError, match=f"^{WHERE}: "):
            well_images(bad, WHERE)


def test_bioformats2raw_series():
    assert bioformats2raw_series(None) is None
    assert bioformats2raw_series({}) is None
    assert bioformats2raw_series({"series": ["0", "1"]}) == ["0", "1"]
    with pytest.raises(InputError):
        bioformats2raw_series({"series": "0"})
