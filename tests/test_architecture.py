"""The package's shape, as the README's architecture section describes it:
layers that import only downwards, no import cycle (imports inside functions
included), no module over 700 lines."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import ome2024_ngff_challenge

PACKAGE = Path(ome2024_ngff_challenge.__file__).parent
TOP = "ome2024_ngff_challenge"

# Lower numbers are lower layers. A module may import its own layer's package
# and any lower layer, never a higher one nor a sibling package of its layer.
LAYERS = {
    "about": 0,
    "errors": 0,
    "json_values": 0,
    "csv_cells": 0,
    "stores": 1,
    "zarr": 2,
    "ome": 2,
    "testing": 2,
    "validation": 3,
    "convert": 4,
    "inventory": 4,  # the catalog command's rows, costs and page (reads through validation)
    "hosting": 4,  # serve: a folder served as S3 serves it; validate: what a server gives web viewers
    "executors": 5,
    "api": 6,
    "commands": 7,
    "__main__": 8,  # python -m ome2024_ngff_challenge: the command line
}
MAX_LINES = 700


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports at run time (anywhere in the
    file, lazily in a function too; not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if type_checking_only(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(TOP))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.startswith(TOP):
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in known else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(name)
    return found


def layer(name: str) -> tuple[str, int] | None:
    parts = name.split(".")
    if len(parts) < 2:
        return None  # the package itself: its lazy API attributes, nothing else
    return parts[1], LAYERS[parts[1]]


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def test_every_module_has_a_layer():
    for name in modules():
        if name.count(".") >= 1:
            assert name.split(".")[1] in LAYERS, f"{name}: not in a known layer; add it to the README and here"


def test_layers_import_only_downwards():
    wrong = []
    for name, targets in graph().items():
        mine = layer(name)
        if mine is None:
            continue
        for target in targets:
            theirs = layer(target)
            if theirs is None:
                wrong.append(f"{name} imports the package's top ({target}); import the module itself")
                continue
            if theirs[1] > mine[1] or (theirs[1] == mine[1] and theirs[0] != mine[0]):
                wrong.append(f"{name} ({mine[0]}) imports {target} ({theirs[0]})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    edges = graph()
    # cycles through a package's __init__ re-exporting its own modules are
    # normal Python; cycles between modules are not
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in edges.get(node, ()):
            if target.startswith(node + "."):
                continue  # a package importing its own modules
            if state[target] == 1:
                cycle = stack[stack.index(target):] + [target]
                if not any(a.startswith(b + ".") for a, b in zip(cycle[:-1], cycle[1:])):
                    cycles.append(" -> ".join(cycle))
            elif state[target] == 0:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if state[node] == 0:
            visit(node)
    assert not cycles, "\n".join(cycles)


def test_no_module_is_too_long():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long


def test_command_layer_is_the_only_one_spelling_flags():
    """Domain code names options with errors.option(); only commands/ spells
    them as command-line flags."""
    import re

    flag = re.compile(r"""f?["'][^"'\n]*--(output|input|rocrate|dask|job|ols)-?[a-z-]*""")
    offenders = []
    for name, path in modules().items():
        if name.startswith(f"{TOP}.commands"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if flag.search(code) and "msg" in code or flag.search(code) and "raise" in code:
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
