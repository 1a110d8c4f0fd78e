"""The walk of ``validate`` for OME-Zarr 0.6: the 0.5 walk (``walk``) with the
0.6 rules (``ome.v06_rules``), every group also checked against its official
0.6 schema, and the references metadata makes to coordinate systems in other
groups resolved: a multiscale's transformations to its label images' systems,
and a ``scene``'s to the images it places."""

from __future__ import annotations

from ..ome import v06, v06_rules
from ..stores.base import join
from .walk import ImageInfo, Validator


def systems_of(attributes: dict | None) -> set[str]:
    """The names of every coordinate system of a group's multiscales."""
    ome = attributes.get("ome") if isinstance(attributes, dict) else None
    multiscales = ome.get("multiscales") if isinstance(ome, dict) else None
    names = set()
    for ms in multiscales if isinstance(multiscales, list) else []:
        for cs in ms.get("coordinateSystems") or [] if isinstance(ms, dict) else []:
            if isinstance(cs, dict) and isinstance(cs.get("name"), str):
                names.add(cs["name"])
    return names


class Validator06(Validator):
    rules = v06_rules
    version = v06.VERSION

    def image(self, path: str, ome: dict, attributes: dict, *, labels: bool, is_label: bool = False,
              parent: ImageInfo | None = None) -> ImageInfo | None:
        self.report.extend(path, v06_rules.schema_problems("image.schema", attributes))
        info = super().image(path, ome, attributes, labels=labels, is_label=is_label, parent=parent)
        for ms in ome.get("multiscales") or []:
            for ref_path, name in v06_rules.label_references(ms):
                if not ref_path.startswith("labels/"):
                    self.report.error(path, f"multiscales coordinateTransformations: path {ref_path!r} is not a label "
                                      "image of this image (labels/NAME)")
                    continue
                self.resolve(path, ref_path, name, "multiscales coordinateTransformations")
        return info

    def well(self, path: str, ome: dict, acquisitions: list | None) -> None:
        self.report.extend(path, v06_rules.schema_problems("well.schema", self.attributes.get(path, {})))
        super().well(path, ome, acquisitions)

    def resolve(self, path: str, ref_path: str, name: str, what: str) -> None:
        """The coordinate system ``name`` of the group at ``ref_path`` (below
        ``path``) exists."""
        target = join(path, ref_path)
        attributes = self.attributes.get(target)
        if attributes is None:
            meta = self.store.get_json(join(target, "zarr.json"))
            attributes = meta.get("attributes") if isinstance(meta, dict) else None
        if attributes is None:
            self.report.error(path, f"{what}: {ref_path!r} is not a group (no zarr.json)")
        elif name not in systems_of(attributes):
            self.report.error(path, f"{what}: {ref_path!r} has no coordinate system {name!r}")

    def other_root(self, ome: dict, attributes: dict) -> None:
        if "scene" not in ome:
            super().other_root(ome, attributes)
            return
        self.report.extend("", v06_rules.schema_problems("scene.schema", attributes))
        problems, references = v06_rules.check_scene(ome)
        self.report.extend("", problems)
        for ref_path in dict.fromkeys(p for p, _ in references):
            image = self.child(ref_path, f"scene image '{ref_path}'", "multiscales",
                               "a scene refers to it, but it has no multiscales")
            if image is not None:
                self.image(ref_path, image, self.attributes[ref_path], labels=True)
        for ref_path, name in dict.fromkeys(references):
            if ref_path in self.attributes:
                self.resolve("", ref_path, name, "scene coordinateTransformations")
