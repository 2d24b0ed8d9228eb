"""What admission reads from a tenant's profile: its ladder, caps and SLO, in memory."""

from __future__ import annotations

from pathlib import Path

from shared.pricing import PriceTable
from shared.tenants import TenantRegistry, load_tenants
from tests.conftest import make_settings
from workers.admission.slo import SloPolicy
from workers.admission.terms import AdmissionTerms

TENANTS = """
[tenants.acme]
model = "gpt-4.1-mini"
ladder = ["gpt-4o-mini", "gpt-4.1"]
tenant_daily_cap_usd = 12
live_max_wait_s = 300

[tenants.globex]
requester_daily_cap_usd = "0.25"
"""


def test_each_tenant_gets_its_own_ladder_caps_and_slo(tmp_path: Path) -> None:
    path = tmp_path / "tenants.toml"
    path.write_text(TENANTS)
    settings = make_settings("pltest-terms", tenants_file=path, model_ladder="gpt-4.1-nano")
    prices = PriceTable.load()
    registry = TenantRegistry(load_tenants(settings, {}, prices), path, prices=prices, environ={})
    slo = SloPolicy.from_settings(settings)
    terms = AdmissionTerms(settings, prices, registry, slo)
    acme, globex, other = terms.get("acme"), terms.get("globex"), terms.get("initech")
    # acme: its own model first, its cheaper step kept, a dearer one left out (as for settings)
    assert acme.ladder == ("gpt-4.1-mini", "gpt-4o-mini")
    assert acme.tenant_cap_micros == 12_000_000 and acme.requester_cap_micros is None
    assert acme.slo.slo_ms == 300_000 and acme.slo.over_slo == slo.over_slo
    # globex: the settings' ladder, its own requester cap, the settings' SLO
    assert globex.ladder == (settings.model, "gpt-4.1-nano")
    assert globex.requester_cap_micros == 250_000 and globex.slo == slo
    # A tenant the file does not name: exactly the settings
    assert other.ladder == globex.ladder and other.tenant_cap_micros is None
    # And a look-up is cached: the same object until the file changes
    assert terms.get("acme") is acme
