"""The floors of DESIGN.md, checked on the source: arrows point down only.

front doors (CLI, api/, review_app/) → service (novaavatar/service/) → flows/ → tasks/,
blocks/ → core (the rest of novaavatar/); OmniAvatar/ imports nothing of the product.
Imports inside functions count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("novaavatar", "flows", "tasks", "blocks", "api", "review_app", "OmniAvatar")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each product module and the product modules it imports (resolved to files)."""
    files = {_module(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    out: dict[str, set[str]] = {}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                names = [f"{base}.{a.name}" for a in node.names] + [base]
            else:
                continue
            found |= {t for n in names if (t := resolve(n)) is not None and t != mod}
        out[mod] = found
    return out


def _floor(mod: str) -> str:
    if mod == "novaavatar.cli" or mod.startswith(("api", "review_app")):
        return "front door"
    if mod.startswith("novaavatar.service"):
        return "service"
    return mod.split(".")[0] if not mod.startswith("novaavatar") else "core"


def _door(mod: str) -> str:
    return "cli" if mod == "novaavatar.cli" else mod.split(".")[0]


GRAPH = _imports()


def test_the_graph_sees_the_product() -> None:
    assert {"novaavatar.cli", "novaavatar.service.production", "flows.produce", "api.app"} <= set(
        GRAPH
    )
    assert "novaavatar.service.production" in GRAPH["api.production"]


def test_core_imports_no_floor_above_it() -> None:
    above = ("flows", "api", "review_app", "novaavatar.cli", "novaavatar.service")
    wrong = sorted(
        f"{mod} -> {t}"
        for mod, targets in GRAPH.items()
        if _floor(mod) == "core"
        for t in targets
        if t.startswith(above)
    )
    assert wrong == []


def test_lower_floors_import_no_service_and_no_front_door() -> None:
    wrong = sorted(
        f"{mod} -> {t}"
        for mod, targets in GRAPH.items()
        if _floor(mod) in ("flows", "tasks", "blocks", "OmniAvatar", "core")
        for t in targets
        if _floor(t) in ("service", "front door")
    )
    assert wrong == []
    assert all(
        t.startswith("OmniAvatar")
        for m, ts in GRAPH.items()
        if m.startswith("OmniAvatar")
        for t in ts
    )


def test_front_doors_import_no_other_front_door() -> None:
    wrong = sorted(
        f"{mod} -> {t}"
        for mod, targets in GRAPH.items()
        if _floor(mod) == "front door"
        for t in targets
        if _floor(t) == "front door" and _door(t) != _door(mod)
    )
    assert wrong == []


def test_no_two_modules_import_each_other() -> None:
    pairs = sorted(
        f"{a} <-> {b}" for a, targets in GRAPH.items() for b in targets if a < b and a in GRAPH[b]
    )
    assert pairs == []
