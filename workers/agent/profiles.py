"""Each tenant's prompt, as the agent uses it: built once per tenant and file version.

A look-up is a dict read (the registry's own check is a monotonic-clock comparison), so the
admission path pays no Redis round trip and no prompt building for a profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.estimate import prompt_tokens_upper_bound
from shared.tenants import DEFAULT_PROFILE, Tenant, TenantRegistry
from workers.agent.prompt import system_prompt


@dataclass(frozen=True)
class TenantPrompt:
    profile: Tenant
    system: str
    # The first call's prompt tokens every ticket of this tenant shares (system + schemas).
    fixed_tokens: int


class TenantPrompts:
    def __init__(
        self,
        registry: TenantRegistry | None,
        schemas_for: Callable[[str], list[dict[str, Any]]],
    ) -> None:
        """`schemas_for(tenant)`: the tools that tenant is offered (its connectors' too)."""
        self._registry = registry
        self._schemas_for = schemas_for
        self._cache: dict[str, TenantPrompt] = {}
        self._version = -1

    def profile(self, tenant: str) -> Tenant:
        return DEFAULT_PROFILE if self._registry is None else self._registry.profile(tenant)

    def get(self, tenant: str) -> TenantPrompt:
        registry = self._registry
        if registry is not None:
            registry.current()  # may reload the file (at most once per check interval)
            if registry.version != self._version:
                self._cache = {}
                self._version = registry.version
        found = self._cache.get(tenant)
        if found is None:
            profile = self.profile(tenant)
            system = system_prompt(profile)
            shared = [{"role": "system", "content": system}, {"role": "user", "content": ""}]
            fixed = prompt_tokens_upper_bound(shared, self._schemas_for(tenant))
            found = TenantPrompt(profile, system, fixed)
            if len(self._cache) < 10_000:  # tenants not in the file all read the defaults
                self._cache[tenant] = found
        return found
