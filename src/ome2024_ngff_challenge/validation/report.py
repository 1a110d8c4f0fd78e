"""What ``validate`` found: errors and warnings, each with the path it is about."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ome import v05_rules as rules
from ..stores.base import Store


@dataclass
class Report:
    store: Store
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    groups: int = 0
    arrays: int = 0
    compared: int = 0
    _seen: set = field(default_factory=set)

    def add(self, level: str, path: str, message: str) -> None:
        key = (level, path, message)
        if key in self._seen:
            return
        self._seen.add(key)
        entry = {"path": path or ".", "location": self.store.describe(path), "message": message}
        (self.errors if level == rules.ERROR else self.warnings).append(entry)

    def error(self, path: str, message: str) -> None:
        self.add(rules.ERROR, path, message)

    def warn(self, path: str, message: str) -> None:
        self.add(rules.WARNING, path, message)

    def extend(self, path: str, problems) -> None:
        for level, message in problems:
            self.add(level, path, message)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_json(self, against: bool) -> dict:
        out = {"valid": self.valid, "errors": self.errors, "warnings": self.warnings,
               "groups": self.groups, "arrays": self.arrays}
        if against:
            out["compared"] = self.compared
        return out

    def summary(self, against: bool) -> str:
        compared = f", {self.compared} compared voxel by voxel with the source" if against else ""
        return (f"{'valid' if self.valid else 'invalid'}: {self.groups} groups, {self.arrays} arrays checked"
                f"{compared}, {len(self.errors)} errors, {len(self.warnings)} warnings")
