"""Imports flow one way: `producers -> shared <- workers`.

Every import in `shared/`, `producers/` and `workers/` is parsed with `ast`, lazy ones inside
functions and `TYPE_CHECKING` blocks included. `shared` imports neither `producers` nor
`workers`; `producers` and `workers` never import each other. The composition root,
`shared/cli/`, wires processes and may import everything; nothing imports it (tests aside).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("shared", "producers", "workers")
CLI = "shared.cli"
# Which top-level packages each side may import from.
ALLOWED = {
    "shared": {"shared"},
    "producers": {"producers", "shared"},
    "workers": {"workers", "shared"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(module: str, tree: ast.AST, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `tree`, wherever it sits."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # `from shared import cli` imports the composition root too: one report a line
            names = [f"{target}.{alias.name}" for alias in node.names]
            yield node.lineno, next((n for n in names if n.startswith(CLI)), target)


def violation(importer: str, target: str) -> str | None:
    top = target.split(".")[0]
    if top not in PACKAGES:
        return None  # the standard library or a dependency
    if importer == CLI or importer.startswith(CLI + "."):
        return None  # the composition root may import everything
    if target == CLI or target.startswith(CLI + "."):
        return "imports the composition root (shared.cli): nothing may"
    side = importer.split(".")[0]
    if top not in ALLOWED[side]:
        return f"{side} may not import {top} (producers -> shared <- workers)"
    return None


def violations(path: Path, source: str) -> list[str]:
    module = module_name(path)
    tree = ast.parse(source, filename=str(path))
    found = []
    for line, target in imported(module, tree, path.name == "__init__.py"):
        why = violation(module, target)
        if why is not None:
            found.append(f"{path.relative_to(ROOT)}:{line}: {target}: {why}")
    return sorted(set(found))


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_every_import_runs_one_way() -> None:
    # Given every module of the three packages / When their imports are parsed
    paths = sources()
    assert len(paths) > 100
    found = [v for path in paths for v in violations(path, path.read_text(encoding="utf-8"))]
    # Then none runs back up
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("shared/x.py", "from workers.handle import handle_ticket\n"),
        ("shared/x.py", "def f():\n    import producers.enqueue\n"),
        (
            "shared/x.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import workers\n",
        ),
        ("workers/x.py", "def f():\n    from producers.redrive import Redrive\n"),
        ("producers/x.py", "from workers import handle\n"),
        ("workers/x.py", "from shared.cli.common import fail\n"),
        ("producers/x.py", "from shared import cli\n"),
        ("workers/admission/x.py", "from ...producers import enqueue\n"),
    ],
)
def test_the_checker_finds_an_import_that_runs_back_up(where: str, source: str) -> None:
    # Given a module that imports the wrong way, even lazily / Then it is reported
    assert violations(ROOT / where, source)


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("shared/cli/cmd_x.py", "def f():\n    from workers.runtime import serve_forever\n"),
        ("workers/x.py", "from shared.stores.outcomes import OutcomeStore\nimport dramatiq\n"),
        ("producers/x.py", "from . import enqueue\nfrom shared.keys import Keys\n"),
    ],
)
def test_the_checker_allows_what_the_direction_allows(where: str, source: str) -> None:
    assert violations(ROOT / where, source) == []
