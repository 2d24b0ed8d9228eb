"""Loads the ledger's Lua scripts, each prefixed with the shared helpers in common.lua."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def script_source(name: str) -> str:
    base = resources.files("shared.ledger")
    common = (base / "common.lua").read_text()
    return common + "\n" + (base / f"{name}.lua").read_text()
