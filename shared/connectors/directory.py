"""Every tenant's connectors as loaded at start, and the one way to call one: by the ticket's
tenant, so a ticket can only ever reach its own tenant's services."""

from __future__ import annotations

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


class ConnectorDirectory:
    def __init__(
        self,
        connectors: Mapping[str, Sequence[Connector]],
        caller: ConnectorCaller | None,
        observe: Observer | None = None,
    ) -> None:
        self._by_tenant = {
            tenant: {c.spec.name: c for c in found} for tenant, found in connectors.items()
        }
        self._schemas = {
            tenant: [c.spec.tool_schema() for c in found] for tenant, found in connectors.items()
        }
        self._caller = caller
        self._observe = observe

    @classmethod
    def empty(cls) -> ConnectorDirectory:
        return cls({}, None)

    def names(self, tenant: str) -> frozenset[str]:
        return frozenset(self._by_tenant.get(tenant, ()))

    def get(self, tenant: str, name: str) -> Connector | None:
        return self._by_tenant.get(tenant, {}).get(name)

    def schemas(self, tenant: str) -> list[dict[str, Any]]:
        """The tool schemas of this tenant's connectors (none for a tenant without any)."""
        return self._schemas.get(tenant, [])

    def largest_schemas(self) -> list[dict[str, Any]]:
        """The schemas of the tenant whose connectors take the most room in a prompt."""
        return max(self._schemas.values(), key=lambda s: len(repr(s)), default=[])

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
