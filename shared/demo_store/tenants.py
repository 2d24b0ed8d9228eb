"""The demo tenants file (shared/data/demo/tenants.toml), pointed at a running simulator.

The file names the simulator at DEMO_BASE_URL; `render` swaps in the address the simulator
actually listens on (a free port in `paceline up --demo` and in tests)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from shared.connectors.directory import Connector
from shared.connectors.resolve import resolve_connectors
from shared.tenants.model import TenantsFile

DEMO_BASE_URL = "http://127.0.0.1:8100"  # `paceline simulator`'s default port


def template() -> str:
    return resources.files("shared.data").joinpath("demo/tenants.toml").read_text()


def render(base_url: str) -> str:
    """The demo tenants file with its connectors on the simulator at `base_url`
    (`http://127.0.0.1:PORT`, no path)."""
    return template().replace(DEMO_BASE_URL, base_url.rstrip("/"))


def write(base_url: str, path: Path) -> Path:
    path.write_text(render(base_url))
    return path


def demo_connectors(base_url: str) -> dict[str, tuple[Connector, ...]]:
    """The demo tenants' connectors on the simulator at `base_url` (loopback: allowed)."""
    file = TenantsFile.model_validate(tomllib.loads(render(base_url)))
    return {
        name: resolve_connectors(tenant.connectors, {}, allow_private=True)
        for name, tenant in file.tenants.items()
    }
