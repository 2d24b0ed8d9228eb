"""Lua scripts live in `.lua` files beside the module that runs them; this reads them."""

from __future__ import annotations

from importlib import resources


def lua_source(package: str, *names: str) -> str:
    """The text of `<name>.lua` from `package`'s directory; several names are joined in order
    (a shared prelude first, as the parking lot's scripts share their scan of due members)."""
    base = resources.files(package)
    return "\n".join((base / f"{name}.lua").read_text(encoding="utf-8") for name in names)
