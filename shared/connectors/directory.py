"""Every tenant's connectors as the tenants file last gave them, and the one way to call one: by
the ticket's tenant, so a ticket can only ever reach its own tenant's services.

With `reload`, the directory follows the tenants file: each look-up asks it for the file's
current version (a cheap call: the registry stats the file at most every few seconds) and
re-indexes when it moved, so a connector added, changed or removed reaches running workers
without a restart."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.connectors.call import ConnectorCaller, ConnectorResult, Requester
from shared.connectors.spec import ConnectorSpec


@dataclass(frozen=True)
class Connector:
    spec: ConnectorSpec
    # The spec's headers with their `${ENV_VAR}` references resolved (secrets: never logged).
    headers: Mapping[str, str] = field(default_factory=dict)


# (tenant, connector, code): told of every call's result (the worker's metrics).
Observer = Callable[[str, str, str], None]


# The tenants file's connectors and its version: (version, tenant -> connectors).
Reload = Callable[[], tuple[int, Mapping[str, Sequence[Connector]]]]


def _index(
    connectors: Mapping[str, Sequence[Connector]],
) -> tuple[dict[str, dict[str, Connector]], dict[str, list[dict[str, Any]]]]:
    by_tenant = {tenant: {c.spec.name: c for c in found} for tenant, found in connectors.items()}
    schemas = {t: [c.spec.tool_schema() for c in found] for t, found in connectors.items()}
    return by_tenant, schemas


class ConnectorDirectory:
    def __init__(
        self,
        connectors: Mapping[str, Sequence[Connector]],
        caller: ConnectorCaller | None,
        observe: Observer | None = None,
        *,
        reload: Reload | None = None,
    ) -> None:
        # One attribute for both maps, swapped whole: a reader never sees one map of the old
        # file and the other of the new.
        self._maps = _index(connectors)
        self._caller = caller
        self._observe = observe
        self._reload = reload
        self._version = reload()[0] if reload is not None else 0
        self._lock = threading.Lock()

    def _current(
        self,
    ) -> tuple[dict[str, dict[str, Connector]], dict[str, list[dict[str, Any]]]]:
        if self._reload is not None:
            version, connectors = self._reload()
            if version != self._version:
                with self._lock:
                    if version != self._version:
                        self._maps = _index(connectors)
                        self._version = version
        return self._maps

    @classmethod
    def empty(cls) -> ConnectorDirectory:
        return cls({}, None)

    def names(self, tenant: str) -> frozenset[str]:
        return frozenset(self._current()[0].get(tenant, ()))

    def get(self, tenant: str, name: str) -> Connector | None:
        return self._current()[0].get(tenant, {}).get(name)

    def schemas(self, tenant: str) -> list[dict[str, Any]]:
        """The tool schemas of this tenant's connectors (none for a tenant without any)."""
        return self._current()[1].get(tenant, [])

    def largest_schemas(self) -> list[dict[str, Any]]:
        """The schemas of the tenant whose connectors take the most room in a prompt."""
        return max(self._current()[1].values(), key=lambda s: len(repr(s)), default=[])

    def close(self) -> None:
        if self._caller is not None:
            self._caller.close()

    def call(
        self, tenant: str, name: str, args: Mapping[str, Any], requester: Requester
    ) -> ConnectorResult:
        connector = self.get(tenant, name)
        if connector is None or self._caller is None:
            return ConnectorResult(
                "denied", error=f"no connector {name[:48]!r} for this tenant", code="unknown"
            )
        result = self._caller.call(connector.spec, connector.headers, args, requester)
        if self._observe is not None:
            self._observe(tenant, name, result.code)
        return result
