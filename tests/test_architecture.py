"""The layout's import rule (docs/architecture.md), checked on the source so it stays true.

Lower floor (plain library code, no Dagster): foundations `settings`, `core`, `clv`; stages
`ingest`, `transform`, `prediction`, `history`, `quality`, `publish`; the `demo` tool. Upper floor:
`defs/`, Dagster objects only, one module per stage plus the shared `keys`, `partitions`, `night_lock`,
`resources` and `dbt_project`. Imports run downward, never sideways between stages of a
floor, never upward.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dagster_project"
FOUNDATIONS = {"settings", "core", "clv"}
LIBRARY_STAGES = {"ingest", "transform", "prediction", "history", "quality", "publish"}
DEFS_SHARED = {"keys", "partitions", "resources", "dbt_project", "night_lock"}
DEFS_STAGES = {"ingest", "transform", "prediction", "history", "quality", "publish", "nightly"}
ENTRY_POINTS = {"cli", "definitions", "__init__"}
DAGSTER = ("dagster", "dagster_dbt", "dagster_webserver")


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def dotted(path: Path) -> list[str]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, absolute and dotted (`dagster_project.core.sql`, `dagster`)."""
    here = dotted(path)
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + (node.module.split(".") if node.module else []))
            # `from .. import clv` imports the module dagster_project.clv, not the package
            if not (PACKAGE.parent / module.replace(".", "/")).is_dir():
                found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def project_part(module: str) -> list[str] | None:
    parts = module.split(".")
    return parts[1:] if parts[0] == "dagster_project" and len(parts) > 1 else None


def where(path: Path) -> tuple[str, str]:
    """(floor, room) of a module: ('lower', 'core'), ('upper', 'ingest'), ('entry', 'cli') ..."""
    parts = dotted(path)[1:]
    if not parts or parts[0] in ENTRY_POINTS:
        return "entry", parts[0] if parts else "__init__"
    if parts[0] == "defs":
        return "upper", parts[1] if len(parts) > 1 else "__init__"
    return "lower", parts[0]


def allowed(floor: str, room: str, target: list[str]) -> bool:
    top = target[0]
    if floor == "entry":
        return True
    if floor == "lower":
        if top == "defs" or top in ENTRY_POINTS:
            return False
        if room in FOUNDATIONS:
            # settings and clv stand alone; core may lean on settings only
            return top == room or (room == "core" and top == "settings")
        if room == "demo":
            return top in {"demo", "core", "settings"}
        return top == room or top in FOUNDATIONS  # a library stage: itself and the foundations
    # upper floor: anything below; in defs/, the shared modules; a stage never another stage
    if top != "defs":
        return top not in ENTRY_POINTS
    other = target[1] if len(target) > 1 else "__init__"
    if room == "__init__":
        return True
    return other in DEFS_SHARED or other == room


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_imports_run_down_the_floors_and_never_sideways(path):
    floor, room = where(path)
    wrong = []
    for module in sorted(imports_of(path)):
        if floor == "lower" and module.split(".")[0] in DAGSTER:
            wrong.append(f"{module} (the library floor imports no Dagster)")
            continue
        target = project_part(module)
        if target and target != [room] and not allowed(floor, room, target):
            wrong.append(module)
    assert not wrong, f"{path.relative_to(PACKAGE.parent)} ({floor} floor, {room}) may not import: {wrong}"


def test_every_module_has_a_room():
    rooms = {where(p) for p in modules()}
    lower = {room for floor, room in rooms if floor == "lower"}
    upper = {room for floor, room in rooms if floor == "upper"}
    assert lower <= FOUNDATIONS | LIBRARY_STAGES | {"demo"}, lower
    assert upper <= DEFS_SHARED | DEFS_STAGES | {"__init__"}, upper


def test_the_rule_catches_a_sideways_import():
    """The checker itself: a stage importing another stage, or Dagster below, is refused."""
    assert not allowed("lower", "quality", ["publish", "serving"])
    assert not allowed("lower", "publish", ["defs", "keys"])
    assert not allowed("upper", "quality", ["defs", "publish"])
    assert allowed("upper", "quality", ["defs", "keys"]) and allowed("lower", "quality", ["core", "sql"])
