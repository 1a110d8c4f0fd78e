"""What ``validate`` found: errors and warnings, each with the path it is about."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import render_options
from ..ome import v05_rules as rules
from ..stores.base import Store


def unreadable(error: Exception) -> str:
    """Why a metadata document could not be used, from the store's error:
    "not valid JSON (...)" or "unreadable (why it could not be read)"."""
    text = str(error)
    if "not valid JSON (" in text:
        return "not valid JSON (" + text.split("not valid JSON (", 1)[-1]
    return f"unreadable ({text.split(': cannot read: ', 1)[-1]})"


@dataclass
class Report:
    """Each entry is {"path", "location", "message"}. Messages name options
    with errors.option(); they read with the API's names unless ``spelling``
    says otherwise (the command line sets its flags)."""

    store: Store
    groups: int = 0
    arrays: int = 0
    compared: int = 0
    spelling: dict | None = None
    _errors: list[dict] = field(default_factory=list)
    _warnings: list[dict] = field(default_factory=list)
    _seen: set = field(default_factory=set)

    def _rendered(self, entries: list[dict]) -> list[dict]:
        return [{**e, "message": render_options(e["message"], self.spelling)} for e in entries]

    @property
    def errors(self) -> list[dict]:
        return self._rendered(self._errors)

    @property
    def warnings(self) -> list[dict]:
        return self._rendered(self._warnings)

    def add(self, level: str, path: str, message: str) -> None:
        key = (level, path, message)
        if key in self._seen:
            return
        self._seen.add(key)
        entry = {"path": path or ".", "location": self.store.describe(path), "message": message}
        (self._errors if level == rules.ERROR else self._warnings).append(entry)

    def error(self, path: str, message: str) -> None:
        self.add(rules.ERROR, path, message)

    def warn(self, path: str, message: str) -> None:
        self.add(rules.WARNING, path, message)

    def demote(self, paths: set[str], prefix: str) -> None:
        """The errors about these groups' own metadata made warnings (a
        container's library writes them so: ``Validator.container``)."""
        keep = []
        for entry in self._errors:
            if entry["path"] in paths:
                self._warnings.append({**entry, "message": prefix + entry["message"]})
            else:
                keep.append(entry)
        self._errors = keep

    def extend(self, path: str, problems) -> None:
        for level, message in problems:
            self.add(level, path, message)

    @property
    def valid(self) -> bool:
        return not self._errors

    def to_json(self, against: bool) -> dict:
        out = {"valid": self.valid, "errors": self.errors, "warnings": self.warnings,
               "groups": self.groups, "arrays": self.arrays}
        if against:
            out["compared"] = self.compared
        return out

    def summary(self, against: bool) -> str:
        compared = f", {self.compared} compared voxel by voxel with the source" if against else ""
        return (f"{'valid' if self.valid else 'invalid'}: {self.groups} groups, {self.arrays} arrays checked"
                f"{compared}, {len(self._errors)} errors, {len(self._warnings)} warnings")
