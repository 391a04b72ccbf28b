"""The layering, read from the source: imports between the parts of niftybaskets run downward only,
the application layer (niftybaskets/cli) on top, and only that layer ends a script or picks its exit code."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "niftybaskets"
APPLICATION = "cli"
EXIT_CODES = {"DONE", "FAILED", "BAD_INPUT", "INTERRUPTED"}  # niftybaskets/errors.py's constants


@dataclass(frozen=True)
class Module:
    path: Path
    name: str  # niftybaskets.ledger.score
    tree: ast.Module

    @property
    def part(self) -> str:
        return part_of(self.name)

    @property
    def shown(self) -> str:
        return self.path.relative_to(PACKAGE.parent).as_posix()

    def imported(self) -> Iterator[tuple[str, int]]:
        """Every niftybaskets module name it imports, at any depth (type-only and in functions too)."""
        package = self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                yield from ((alias.name, node.lineno) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: `from ..baskets import X` in niftybaskets.ledger.score
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                yield base, node.lineno
                # `from niftybaskets import ledger` imports the subpackage, not a name of the root
                yield from ((f"{base}.{alias.name}", node.lineno) for alias in node.names if base == PACKAGE.name)


def modules() -> list[Module]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append(Module(path, name, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))))
    return found


def part_of(name: str) -> str:
    """The subpackage or top-level module `name` belongs to: `ledger` for niftybaskets.ledger.score,
    `baskets` for niftybaskets.baskets; "" for the package root or anything outside it."""
    parts = name.split(".")
    return parts[1] if parts[0] == PACKAGE.name and len(parts) > 1 else ""


def import_graph() -> dict[str, dict[str, str]]:
    """part -> {imported part: where, the first time, as file:line}."""
    graph: dict[str, dict[str, str]] = {}
    for module in modules():
        if not module.part:
            continue
        edges = graph.setdefault(module.part, {})
        for name, line in module.imported():
            target = part_of(name)
            if target and target != module.part:
                edges.setdefault(target, f"{module.shown}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of parts (Tarjan's algorithm), as a path that
    ends where it starts."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(part: str) -> None:
        order[part] = low[part] = len(order)
        stack.append(part)
        for target in graph.get(part, {}):
            if target not in order:
                visit(target)
                low[part] = min(low[part], low[target])
            elif target in stack:
                low[part] = min(low[part], order[target])
        if low[part] == order[part]:
            group = []
            while not group or group[-1] != part:
                group.append(stack.pop())
            if len(group) > 1:
                groups.append(group)

    for part in sorted(graph):
        if part not in order:
            visit(part)
    return [shortest_cycle(graph, min(group), set(group)) for group in groups]


def shortest_cycle(graph: dict[str, dict[str, str]], start: str, within: set[str]) -> list[str]:
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for part in frontier:
            for target in sorted(graph.get(part, {})):
                if target == start:
                    return [*paths[part], start]
                if target in within and target not in paths:
                    paths[target] = [*paths[part], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in a cycle that could not be traced")


def test_imports_between_the_parts_of_niftybaskets_have_no_cycle():
    graph = import_graph()
    found = [
        " -> ".join(cycle) + "  (" + "; ".join(f"{graph[a][b]} imports {b}" for a, b in pairwise(cycle)) + ")"
        for cycle in cycles(graph)
    ]
    assert not found, "imports must run downward only; these parts import each other:\n" + "\n".join(found)


def test_nothing_imports_the_application_layer():
    found = [
        f"{module.shown}:{line} imports {name}"
        for module in modules()
        if module.part != APPLICATION
        for name, line in module.imported()
        if part_of(name) == APPLICATION
    ]
    assert not found, f"only niftybaskets/{APPLICATION} may import niftybaskets/{APPLICATION}:\n" + "\n".join(found)


def exception_classes(every: list[Module]) -> set[str]:
    """The names of the exception classes: Python's own and each project class deriving from one."""
    known = {
        name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
    }
    bases = {
        node.name: {base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "") for base in node.bases}
        for module in every
        for node in ast.walk(module.tree)
        if isinstance(node, ast.ClassDef)
    }
    while grown := {name for name, parents in bases.items() if name not in known and parents & known}:
        known |= grown
    return known


def exit_code_choices(module: Module, exceptions: set[str]) -> Iterator[str]:
    """Where `module` ends the process or picks an exit code itself."""
    errors_aliases = {
        alias.asname or alias.name
        for node in ast.walk(module.tree)
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE.name
        for alias in node.names
        if alias.name == "errors"
    } | {
        alias.asname
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == f"{PACKAGE.name}.errors" and alias.asname
    }
    constants = {
        alias.asname or alias.name
        for node in ast.walk(module.tree)
        if isinstance(node, ast.ImportFrom) and node.module == f"{PACKAGE.name}.errors"
        for alias in node.names
        if alias.name in EXIT_CODES
    }
    allowed_assignments = {
        id(statement)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.ClassDef)
        and {base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "") for base in node.bases}
        & exceptions
        for statement in node.body
    }

    def is_exit_code(value: ast.expr | None) -> bool:
        if isinstance(value, ast.Name):
            return value.id in constants
        if isinstance(value, ast.Attribute):
            if value.attr == "exit_code":
                return True
            return value.attr in EXIT_CODES and isinstance(value.value, ast.Name) and value.value.id in errors_aliases
        return False

    for node in ast.walk(module.tree):
        where = f"{module.shown}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and node.attr == "exit" and getattr(node.value, "id", "") == "sys":
            yield f"{where}: sys.exit"
        elif isinstance(node, ast.ImportFrom) and node.module == "sys" and any(a.name == "exit" for a in node.names):
            yield f"{where}: imports sys.exit"
        elif isinstance(node, ast.Name) and node.id == "SystemExit":
            yield f"{where}: SystemExit"
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and id(node) not in allowed_assignments:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(t, "id", getattr(t, "attr", "")) == "exit_code" for t in targets):
                yield f"{where}: assigns an exit_code"
        elif isinstance(node, ast.Return) and is_exit_code(node.value):
            yield f"{where}: returns the exit code {ast.unparse(node.value)}"


def test_only_the_application_layer_ends_a_script_or_picks_its_exit_code():
    every = modules()
    exceptions = exception_classes(every)
    found = [
        choice
        for module in every
        if module.part != APPLICATION and module.name != f"{PACKAGE.name}.errors"
        for choice in exit_code_choices(module, exceptions)
    ]
    assert not found, (
        f"domain code returns results and raises project errors; niftybaskets/{APPLICATION} picks exit codes:\n"
        + "\n".join(found)
    )
