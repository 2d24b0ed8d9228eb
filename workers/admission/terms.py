"""What admission reads from a ticket's tenant profile: its model ladder, its own caps, its
first-response SLO, and the profile itself (its rollout).

Built once per tenant and tenants-file version, in memory: a ticket's look-up adds no Redis
round trip to admission (tests/bench/bench_profiles.py counts them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from shared.pricing import PriceTable
from shared.settings import Settings, stepping_ladder
from shared.tenants import DEFAULT_PROFILE, Tenant, TenantRegistry
from workers.admission.slo import SloPolicy


@dataclass(frozen=True)
class TenantTerms:
    profile: Tenant
    ladder: tuple[str, ...]
    tenant_cap_micros: int | None
    requester_cap_micros: int | None
    slo: SloPolicy


class AdmissionTerms:
    def __init__(
        self,
        settings: Settings,
        prices: PriceTable,
        registry: TenantRegistry | None,
        slo: SloPolicy,
    ) -> None:
        self._settings = settings
        self._prices = prices
        self._registry = registry
        self._slo = slo
        self._default = self._build(DEFAULT_PROFILE)
        self._cache: dict[str, TenantTerms] = {}
        self._version = -1

    def get(self, tenant: str) -> TenantTerms:
        registry = self._registry
        if registry is None:
            return self._default
        tenants = registry.current()
        if registry.version != self._version:
            self._cache, self._version = {}, registry.version
        found = self._cache.get(tenant)
        if found is None:
            profile = tenants.profile(tenant)
            found = self._default if profile is DEFAULT_PROFILE else self._build(profile)
            self._cache[tenant] = found
        return found

    def _build(self, profile: Tenant) -> TenantTerms:
        s = self._settings
        if profile.model is not None or profile.ladder is not None:
            s = s.model_copy(
                update={
                    "model": profile.model or s.model,
                    "model_ladder": ",".join(
                        s.ladder if profile.ladder is None else profile.ladder
                    ),
                }
            )
        slo = self._slo
        if profile.live_max_wait_s is not None:
            slo = dataclasses.replace(slo, slo_ms=profile.live_max_wait_s * 1000)
        return TenantTerms(
            profile=profile,
            ladder=tuple(stepping_ladder(s, self._prices)),
            tenant_cap_micros=profile.tenant_cap_micros,
            requester_cap_micros=profile.requester_cap_micros,
            slo=slo,
        )
