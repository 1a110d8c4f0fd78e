"""``validate --metadata-only FILE``: one metadata document (a group's
``zarr.json``, or its ``attributes``) checked against the OME-Zarr 0.5 or 0.6
rules that need no other node: the official schemas and the rules in code
(``ome.v05_rules``, ``ome.v06_rules``). Cross references to other groups and
the arrays are the walk's (``walk``, ``walk_v06``)."""

from __future__ import annotations

import json

from ..json_values import MAX_DEPTH, too_deep
from ..ome import v05_rules, v06_rules
from ..ome.spec import TARGET_VERSION
from ..ome.v06 import VERSION as V06

ERROR, WARNING = v05_rules.ERROR, v05_rules.WARNING
# 0.5 schema by the key that selects it (those shipped in v05_rules.SCHEMA_FILES are applied)
V05_SCHEMAS = {"multiscales": "image.schema", "plate": "plate.schema", "well": "well.schema",
               "bioformats2raw.layout": "bf2raw.schema", "series": "ome.schema", "image-label": "label.schema"}


def attributes_of(document: object) -> tuple[dict | None, str | None]:
    """(the group's attributes, None), or (None, what is wrong). A Zarr v3
    ``zarr.json`` gives its ``attributes``; anything with "ome" is taken as the
    attributes themselves."""
    if not isinstance(document, dict):
        return None, "must hold a JSON object"
    if "zarr_format" in document or "node_type" in document:
        if document.get("zarr_format") != 3:
            return None, f"zarr_format is {document.get('zarr_format')!r}: OME-Zarr 0.5 and 0.6 are Zarr v3 (3)"
        if document.get("node_type") != "group":
            return None, f"node_type is {document.get('node_type')!r}: OME-Zarr metadata is a group's"
        document = document.get("attributes", {})
        if not isinstance(document, dict):
            return None, "'attributes' must be an object"
    if "ome" not in document:
        misplaced = v05_rules.misplaced_ome_keys(document)
        if misplaced:
            return None, f"OME metadata ({', '.join(misplaced)}) at the top of attributes, as in 0.4; 0.5 and 0.6 keep it under 'ome'"
        return None, "no OME-Zarr metadata (attributes.ome)"
    if not isinstance(document["ome"], dict):
        return None, "attributes.ome must be an object"
    return document, None


def check_v05(attributes: dict) -> list[tuple[str, str]]:
    ome = attributes["ome"]
    problems = [*v05_rules.check_ome_version(ome)]
    shipped = getattr(v05_rules, "SCHEMA_FILES", ())
    for key, schema in V05_SCHEMAS.items():
        if key in ome and schema in shipped:
            problems.extend(v05_rules.schema_problems(schema, attributes))
    if "multiscales" in ome:
        problems.extend(v05_rules.check_multiscales(ome)[0])
        problems.extend(v05_rules.check_omero(ome, None))
    if "image-label" in ome:
        problems.extend(v05_rules.check_image_label(ome))
    if "labels" in ome:
        problems.extend(v05_rules.check_labels_group(ome)[0])
    if "plate" in ome:
        problems.extend(v05_rules.check_plate(ome)[0])
    if "well" in ome:
        problems.extend(v05_rules.check_well(ome)[0])
    if "series" in ome:
        problems.extend(v05_rules.check_series(ome)[0])
    if not any(k in ome for k in (*V05_SCHEMAS, "labels")):
        problems.append((ERROR, "attributes.ome has none of multiscales, plate, well, labels or bioformats2raw.layout"))
    return problems


def looks_0_6(ome: dict) -> bool:
    """Whether an ``ome`` without a version has what only 0.6 has."""
    multiscales = ome.get("multiscales")
    return "scene" in ome or isinstance(multiscales, list) and any(
        isinstance(ms, dict) and "coordinateSystems" in ms for ms in multiscales)


def check_document(document: object) -> tuple[str | None, list[tuple[str, str]]]:
    """(the OME-Zarr version it was checked as, problems) of one parsed
    metadata document."""
    attributes, wrong = attributes_of(document)
    if attributes is None:
        return None, [(ERROR, wrong)]
    ome = attributes["ome"]
    version = ome.get("version")
    if version is None and looks_0_6(ome):
        version = V06  # checked as the version its content is (the missing version is an error there)
    if isinstance(version, str) and version.startswith("0.6"):
        problems = v06_rules.check_document(attributes)
        if version == RELEASE_CANDIDATE:
            problems = as_release_candidate(problems)
        return V06, problems
    if version == TARGET_VERSION or version is None:
        return TARGET_VERSION, check_v05(attributes)
    return None, [(ERROR, f"attributes.ome.version is {version!r}: only 0.5 and 0.6 metadata can be checked")]


RELEASE_CANDIDATE = "0.6rc0"
# Rules of the specification's text that the release candidate's own conformance
# cases break (their "valid" cases: 2 scale values for 3 axes; plates with rows
# and columns swapped; fixed on ngff-spec's 0.5 branch, not in 0.6rc0): in a
# document that says "0.6rc0" they are warnings, so that every case of its
# suite is judged as it says; in "0.6" documents they stay errors.
RC0_TOLERATED = ("values but the coordinate systems have", "is not in plate.rows", "is not in plate.columns")


def as_release_candidate(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``problems`` of a "0.6rc0" document with the rules its conformance cases
    break made warnings (saying so)."""
    return [(WARNING, f"{message} (accepted in a 0.6rc0 document, whose conformance cases break this rule of the "
                      "specification's text; an error in 0.6)")
            if level == ERROR and any(rule in message for rule in RC0_TOLERATED) else (level, message)
            for level, message in problems]


def check_text(text: str | bytes) -> tuple[str | None, list[tuple[str, str]]]:
    """``check_document`` of a file's content (not JSON: one error)."""
    try:
        document = json.loads(text)
    except ValueError as e:
        return None, [(ERROR, f"not valid JSON ({e})")]
    except RecursionError:  # the parser's own limit
        document = None
        deep = True
    else:
        deep = too_deep(document)
    if deep:
        return None, [(ERROR, f"not valid JSON (nested more than {MAX_DEPTH} levels deep: not metadata we read)")]
    return check_document(document)


def unavailable(version: str | None) -> str | None:
    """Why that version's official schemas could not be applied, or None."""
    rules = v06_rules if version == V06 else v05_rules
    return rules.schemas_unavailable()
