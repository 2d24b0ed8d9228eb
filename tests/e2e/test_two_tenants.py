"""Two tenants side by side from one tenants file (issue 21's "done when"): each through its
own webhook path, with its own instructions, reply mode, help centre and helpdesk account,
and neither's data or account reached from the other's tickets. Every part real: the webhook
app, a worker, the simulator over HTTP, Redis, and two local helpdesk stand-ins."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx
import pytest

from shared.models import OutcomeStatus
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import WebhookServer, import_demo_help_centre, tkey, wait_for
from tests.producers.webhook.vendor_cases import encode, payload, signed_headers
from tests.workers.replies.standin import standin_server
from workers.runtime import RunningWorker

ENV = {
    "ACME_ZENDESK_SECRET": "acme-zendesk-secret-7f3k9q",
    "ACME_ZENDESK_TOKEN": "acme-zendesk-token-2m8x4w",
    "GLOBEX_FRESHDESK_SECRET": "globex-freshdesk-secret-5t1p",
    "GLOBEX_FRESHDESK_KEY": "globex-freshdesk-key-9v6b3n",
}
HOUSE_TOKEN = "house-wide-token-1q2w3e4r"

TENANTS = """
[tenants.acme]
display_name = "Acme Outdoor"
instructions = "Sign off as The Acme team."
reply_mode = "public"

[tenants.acme.webhooks]
zendesk = {{ secret_env = "ACME_ZENDESK_SECRET" }}

[tenants.acme.vendors.zendesk]
base_url = "{acme_url}"
user = "bot@acme.example"
token_env = "ACME_ZENDESK_TOKEN"

[tenants.globex]
display_name = "Globex"
instructions = "Formal tone. Sign off as Globex Customer Care."
reply_mode = "draft"
never_tags = ["vip"]

[tenants.globex.webhooks]
freshdesk = {{ secret_env = "GLOBEX_FRESHDESK_SECRET" }}

[tenants.globex.vendors.freshdesk]
base_url = "{globex_url}"
token_env = "GLOBEX_FRESHDESK_KEY"
"""


def _basic_user(headers: dict[str, str]) -> str:
    return base64.b64decode(headers["authorization"].removeprefix("Basic ")).decode()


def test_two_tenants_run_side_by_side_from_one_file(
    namespace: str,
    simulator: SimulatorProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with (
        standin_server() as acme_desk,
        standin_server() as globex_desk,
        standin_server() as house_desk,
    ):
        path = tmp_path / "tenants.toml"
        path.write_text(TENANTS.format(acme_url=acme_desk.url, globex_url=globex_desk.url))
        settings = make_settings(
            namespace,
            llm_base_url=simulator.base_url,
            llm_api_key="sk-test-two-tenants",
            tenants_file=path,
            allow_private_networks=True,
            # The source-wide accounts: neither tenant's reply may go there
            zendesk_api_url=house_desk.url, zendesk_api_token=HOUSE_TOKEN,
            freshdesk_api_url=house_desk.url, freshdesk_api_key=HOUSE_TOKEN,
        )  # fmt: skip
        # Only acme has a help centre
        import_demo_help_centre(settings, tenants=("acme",))
        now = time.time()
        acme_body = encode(payload("zendesk", 1))
        globex_body = encode(payload("freshdesk", 1))
        vip = payload("freshdesk", 2)
        vip["freshdesk_webhook"]["ticket_tags"] = "vip, billing"
        vip_body = encode(vip)
        with WebhookServer(settings) as app, RunningWorker(settings, threads=2) as worker:
            # Given each tenant's ticket on its own path, signed with its own key
            posts = [
                ("/webhooks/zendesk/acme", acme_body, signed_headers(
                    "zendesk", acme_body, now, ENV["ACME_ZENDESK_SECRET"])),
                ("/webhooks/freshdesk/globex", globex_body, signed_headers(
                    "freshdesk", globex_body, now, ENV["GLOBEX_FRESHDESK_SECRET"])),
                ("/webhooks/freshdesk/globex", vip_body, signed_headers(
                    "freshdesk", vip_body, now, ENV["GLOBEX_FRESHDESK_SECRET"])),
                # And acme's key on globex's path: refused
                ("/webhooks/freshdesk/globex", globex_body, signed_headers(
                    "freshdesk", globex_body, now, ENV["ACME_ZENDESK_SECRET"])),
            ]  # fmt: skip
            codes = [
                httpx.post(f"{app.url}{route}", content=body, headers=headers).status_code
                for route, body, headers in posts
            ]
            assert codes == [202, 202, 202, 401]
            store = OutcomeStore(worker.ctx.redis, worker.ctx.keys)
            keys = {
                "acme": tkey("zd-101", "acme", "zendesk"),
                "globex": tkey("fd-401", "globex", "freshdesk"),
                "vip": tkey("fd-402", "globex", "freshdesk"),
            }

            def all_final() -> bool:
                found = [store.get(k) for k in keys.values()]
                return all(o is not None and o.status.is_final for o in found)

            assert wait_for(all_final, timeout_s=60)
            assert wait_for(lambda: len(acme_desk.requests) + len(globex_desk.requests) >= 2, 10)

    acme, globex, vip_out = (store.get(k) for k in keys.values())
    assert acme is not None and globex is not None and vip_out is not None
    # Then acme's answer went public to acme's own Zendesk, as acme's API user
    assert acme.status is OutcomeStatus.ANSWERED and acme.visibility == "public"
    assert acme.articles, "acme's answer cites acme's help centre"
    (zd,) = acme_desk.requests
    assert (zd.method, zd.path) == ("PUT", "/api/v2/tickets/101.json")
    assert json.loads(zd.body)["ticket"]["comment"]["public"] is True
    assert _basic_user(zd.headers) == f"bot@acme.example/token:{ENV['ACME_ZENDESK_TOKEN']}"
    # And globex's went to globex's own Freshdesk as a private note (draft), with globex's key
    assert globex.status is OutcomeStatus.ANSWERED and globex.visibility == "internal"
    (fd,) = globex_desk.requests
    assert (fd.method, fd.path) == ("POST", "/api/v2/tickets/401/notes")
    assert json.loads(fd.body)["private"] is True
    assert _basic_user(fd.headers) == f"{ENV['GLOBEX_FRESHDESK_KEY']}:X"
    # And neither reached the other's data: globex has no help centre, so nothing of acme's
    assert globex.articles == []
    for title in acme.articles:
        assert title not in (globex.reply or "")
    # And globex's VIP ticket was left for people: no model call, nothing posted
    assert vip_out.status is OutcomeStatus.NOT_IN_ROLLOUT and vip_out.reason == "not_in_rollout"
    assert vip_out.llm_calls == 0 and vip_out.cost_micros == 0 and vip_out.reply is None
    # And the source-wide accounts were never used
    assert house_desk.requests == []
