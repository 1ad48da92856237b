"""The arrows point one way: a test reads every import with `ast` and fails when a layering rule breaks.

- the store is told what to write and never calls business logic;
- a plugin (built-in or in the docs) imports only the public `coachsync.api`;
- `detect` and the planner stay pure: nothing they import, directly or not, does I/O.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "coachsync"

# Modules whose job is I/O: the database, the network, files, processes, mail, the daemon's loop.
IO_MODULES = {
    "sqlite3",
    "socket",
    "subprocess",
    "shutil",
    "smtplib",
    "http",
    "urllib.request",
    "requests",
    "caldav",
    "yagmail",
    "watchdog",
    "sdnotify",
    "platformdirs",
}
IO_PACKAGE_MODULES = {
    "coachsync.store",
    "coachsync.sources",
    "coachsync.sync",
    "coachsync.mail",
    "coachsync.daemon",
    "coachsync.app",
    "coachsync.cli",
    "coachsync.check",
    "coachsync.service",
    "coachsync.notify",
    "coachsync.secrets",
    "coachsync.plugins",
    "coachsync.templates",
}
BUSINESS_LOGIC = {
    "coachsync.policies",
    "coachsync.plugins",
    "coachsync.hookspecs",
    "coachsync.sync",
    "coachsync.plan",
    "coachsync.detect",
    "coachsync.agreement",
    "coachsync.standing",
    "coachsync.engagement",
    "coachsync.excuses",
    "coachsync.app",
    "coachsync.cli",
    "coachsync_plugins",
}


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[0] == "plugins":
        parts[0] = "coachsync_plugins"
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:`, which never run."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports_of(path: Path) -> set[str]:
    """The modules a file imports when it runs, relative imports resolved, at any depth in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            found.add(target)
            # `from . import model` imports a module, not a name.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def python_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.py"))


def own_modules() -> dict[str, Path]:
    return {module_name(p): p for p in [*python_files(PACKAGE), *python_files(ROOT / "plugins")]}


def within(module: str, packages: set[str]) -> str | None:
    for package in packages:
        if module == package or module.startswith(package + "."):
            return package
    return None


def closure(start: str, modules: dict[str, Path]) -> dict[str, str]:
    """Every module `start` reaches, each with the module that imported it."""
    reached: dict[str, str] = {}
    todo = [start]
    while todo:
        current = todo.pop()
        for imported in imports_of(modules[current]):
            if imported in reached:
                continue
            reached[imported] = current
            if imported in modules:
                todo.append(imported)
    return reached


def test_the_import_reader_resolves_relative_imports_and_skips_type_checking_blocks(tmp_path: Path) -> None:
    # The reader itself must be right, or every rule below would pass by seeing nothing.
    plan = imports_of(PACKAGE / "plan.py")

    assert "coachsync.detect" in plan
    assert "coachsync.model" in plan
    assert "coachsync.ics" not in plan  # imported for types only


@pytest.mark.parametrize("path", python_files(PACKAGE / "store"), ids=lambda p: p.name)
def test_the_store_never_imports_business_logic(path: Path) -> None:
    broken = sorted(m for m in imports_of(path) if within(m, BUSINESS_LOGIC))

    assert broken == [], f"{path.relative_to(ROOT)} imports {broken}: the store is told what to write"


@pytest.mark.parametrize("path", python_files(ROOT / "plugins"), ids=lambda p: p.name)
def test_built_in_plugins_import_only_the_public_api(path: Path) -> None:
    internal = sorted(m for m in imports_of(path) if m.startswith("coachsync.") and not m.startswith("coachsync.api"))

    assert internal == [], f"{path.relative_to(ROOT)} imports {internal}; plugins import only coachsync.api"


def test_the_docs_example_and_code_blocks_import_only_the_public_api() -> None:
    example = (ROOT / "docs" / "examples" / "late_cancellation.py").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8"), re.S)
    # Signatures in the docs are not always valid Python, so import lines are read as lines.
    imported = {
        match
        for text in [example, *blocks]
        for match in re.findall(r"^\s*(?:from|import) (coachsync[\w.]*)", text, re.M)
    }

    assert imported == {"coachsync.api"}


@pytest.mark.parametrize(
    "pure",
    [
        "coachsync.detect",
        "coachsync.plan",
        "coachsync.agreement",
        "coachsync.standing",
        "coachsync.engagement",
        "coachsync.report.data",
    ],
)
def test_detect_and_the_planner_import_nothing_that_does_io(pure: str) -> None:
    modules = own_modules()
    reached = closure(pure, modules)
    io = {m: via for m, via in reached.items() if within(m, IO_MODULES) or within(m, IO_PACKAGE_MODULES)}

    assert io == {}, f"{pure} reaches I/O: " + ", ".join(f"{m} (imported by {via})" for m, via in sorted(io.items()))
