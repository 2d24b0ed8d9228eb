"""Tenant profiles: defaults that change nothing, one-line errors at start, rollout, visibility."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import SettingsError
from shared.models import Requester, Ticket
from shared.pricing import PriceTable
from shared.tenants import DEFAULT_PROFILE, Tenant, Tenants, load_tenants, read_tenants_file
from shared.tenants.rollout import bucket, in_rollout
from tests.conftest import make_settings

FULL = """
[tenants.acme]
display_name = "Acme Outdoor"
instructions = "Sign off as The Acme team."
languages = ["en", "de"]
model = "gpt-4o-mini"
ladder = ["gpt-4.1-nano"]
tenant_daily_cap_usd = 25
requester_daily_cap_usd = "0.50"
reply_mode = "public_when_grounded"
max_auto_replies = 2
forbidden_phrases = ["lifetime warranty"]
live_max_wait_s = 600
rollout_pct = 25
never_tags = ["vip"]

[tenants.acme.escalation]
group_id = "360001"

[tenants.acme.webhooks]
zendesk = { secret_env = "ACME_ZENDESK_SECRET" }

[tenants.acme.vendors.zendesk]
subdomain = "acme"
user = "bot@acme.example"
token_env = "ACME_ZENDESK_TOKEN"
"""
ENV = {"ACME_ZENDESK_SECRET": "acme-zendesk-secret-0001", "ACME_ZENDESK_TOKEN": "zd-tok-acme-77"}


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tenants.toml"
    path.write_text(text)
    return path


def _load(tmp_path: Path, text: str, env: dict[str, str] = ENV, prices: bool = True) -> Tenants:
    settings = make_settings("pltest-profiles", tenants_file=_file(tmp_path, text))
    return load_tenants(settings, env, PriceTable.load() if prices else None)


def test_a_full_profile_loads_with_its_secrets_resolved(tmp_path: Path) -> None:
    tenants = _load(tmp_path, FULL)
    acme = tenants.profile("acme")
    assert acme.display_name == "Acme Outdoor" and acme.reply_mode == "public_when_grounded"
    assert acme.tenant_cap_micros == 25_000_000 and acme.requester_cap_micros == 500_000
    assert acme.escalation is not None and acme.escalation.label() == "group:360001"
    assert tenants.vendor_token("acme", "zendesk") == "zd-tok-acme-77"
    # Every value the file names is a secret the reply check and the logs refuse
    assert set(tenants.secret_values()) == set(ENV.values())


def test_a_tenant_without_a_profile_gets_todays_behaviour(tmp_path: Path) -> None:
    tenants = _load(tmp_path, FULL)
    other = tenants.profile("someone-else")
    assert other is DEFAULT_PROFILE
    assert (other.reply_mode, other.max_auto_replies, other.rollout_pct) == ("draft", 3, 100)
    assert other.model is None and other.escalation is None and other.vendors == {}


@pytest.mark.parametrize(
    ("text", "env", "line"),
    [
        (
            FULL,
            {"ACME_ZENDESK_SECRET": ENV["ACME_ZENDESK_SECRET"]},
            "tenant 'acme': vendors.zendesk.token_env: ACME_ZENDESK_TOKEN is not set",
        ),
        (
            FULL.replace('model = "gpt-4o-mini"', 'model = "gpt-nonesuch"'),
            ENV,
            "tenant 'acme': model: no price for model 'gpt-nonesuch'",
        ),
        ('[tenants.acme]\nreply_mode = "loud"\n', {}, "tenant 'acme': reply_mode:"),
        ("[tenants.acme]\nrollout_pct = 101\n", {}, "tenant 'acme': rollout_pct:"),
        ('[tenants.acme]\ndisplay_nmae = "x"\n', {}, "tenant 'acme': display_nmae:"),
        (
            '[tenants.acme.escalation]\ngroup_id = "1"\nassignee_id = "2"\n',
            {},
            "tenant 'acme': escalation: give exactly one",
        ),
        (
            '[tenants.acme.vendors.intercom]\nsubdomain = "acme"\n',
            {},
            "tenant 'acme': vendors: intercom has no subdomain",
        ),
        (
            '[tenants.acme.vendors.zendesk]\ntoken_env = "PACELINE_LLM_API_KEY"\n',
            {},
            "tenant 'acme': vendors.zendesk.token_env: must not start with PACELINE_",
        ),
        ("[tenants.acme]\ntenant_daily_cap_usd = -1\n", {}, "tenant_daily_cap_usd: must be"),
    ],
)
def test_a_bad_profile_stops_at_start_with_one_line(
    tmp_path: Path, text: str, env: dict[str, str], line: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, text, env)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("PACELINE_TENANTS_FILE: ")
    assert line in message, message


def test_secrets_are_never_written_in_the_file(tmp_path: Path) -> None:
    # A token pasted inline is not a field: refused, not silently used
    text = '[tenants.acme.vendors.zendesk]\ntoken = "zd-tok-inline"\n'
    with pytest.raises(SettingsError, match=r"vendors\.zendesk\.token: Extra inputs"):
        read_tenants_file(_file(tmp_path, text))


def _ticket(n: int, tags: list[str] | None = None) -> Ticket:
    return Ticket(
        event_id=f"e{n}", ticket_id=f"T-{n}", tenant_id="acme",
        requester=Requester(id="u-1"), tags=tags or [],
    )  # fmt: skip


def test_rollout_is_a_fixed_share_by_ticket_id_and_only_grows() -> None:
    tickets = [_ticket(n) for n in range(2_000)]
    ins = {pct: {t.ticket_id for t in tickets if in_rollout(Tenant(rollout_pct=pct), t)}
           for pct in (0, 10, 50, 100)}  # fmt: skip
    # Then the shares are about right, a ticket in at 10 % is in at 50 %, and none at 0 %
    assert ins[0] == set() and len(ins[100]) == 2_000
    assert 120 <= len(ins[10]) <= 280 and 850 <= len(ins[50]) <= 1_150
    assert ins[10] <= ins[50] <= ins[100]
    # And every event of one ticket gets the same answer
    assert bucket("T-7") == bucket("T-7")


def test_tags_decide_before_the_share() -> None:
    profile = Tenant(only_tags=["Billing", "shipping"], never_tags=["vip"])
    assert in_rollout(profile, _ticket(1, ["billing"]))
    assert not in_rollout(profile, _ticket(2, ["other"]))
    assert not in_rollout(profile, _ticket(3, ["billing", "VIP"]))
    assert not in_rollout(Tenant(never_tags=["legal"]), _ticket(4, ["legal"]))


@pytest.mark.parametrize(
    ("mode", "answered", "grounded", "expected"),
    [
        ("draft", True, True, "internal"),
        ("public", True, False, "public"),
        ("public", False, False, "public"),
        ("public_when_grounded", True, True, "public"),
        ("public_when_grounded", True, False, "internal"),
        ("public_when_grounded", False, True, "internal"),
    ],
)
def test_reply_mode_decides_visibility(
    mode: str, answered: bool, grounded: bool, expected: str
) -> None:
    profile = Tenant.model_validate({"reply_mode": mode})
    assert profile.visibility(answered=answered, grounded=grounded) == expected
