"""`/ops` in a real headless Chromium: it renders, the chart shows the ledger's spend, a dead
letter is requeued from the page into the redrive lane, and strangers get a 401."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from shared.keys import Keys
from shared.models import Lane, OutcomeStatus
from shared.money import fmt_usd
from shared.stores.dead_letters import DeadLetterRegistry
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import WebhookServer, generic_ticket, sign_generic, tkey, wait_for
from tests.producers.webhook.ops_seed import dead_letter
from workers.runtime import RunningWorker

CHROMIUM = "/usr/bin/chromium"
TOKEN = "ops-browser-token-5678"
SECRET = "ops-webhook-secret-51c2"
SCREENSHOT = "/tmp/paceline-ops.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-quic",
            ],
        )  # fmt: skip
        yield chromium
        chromium.close()


def test_ops_page_in_chromium(
    namespace: str, r: redis.Redis, simulator: SimulatorProcess, browser: Any
) -> None:
    keys = Keys(namespace)
    settings = make_settings(
        namespace,
        ops_token=TOKEN,
        llm_base_url=simulator.base_url,
        llm_api_key="sk-test-ops",
        webhook_secret_generic=SECRET,
    )
    with WebhookServer(settings) as app:
        # Given a ticket answered today through the webhook and a live-lane worker (money spent)
        with RunningWorker(settings, threads=2, lanes=[Lane.LIVE]) as worker:
            body = json.dumps(generic_ticket(1)).encode()
            resp = httpx.post(
                f"{app.url}/webhooks/generic", content=body, headers=sign_generic(SECRET, body)
            )
            assert resp.status_code == 202
            store = OutcomeStore(r, keys)
            assert wait_for(lambda: (o := store.get(tkey("T-1"))) is not None and o.status.is_final)
            assert store.get(tkey("T-1")).status is OutcomeStatus.ANSWERED  # type: ignore[union-attr]
            spent = worker.ctx.ledger.spent("global")
        assert spent > 0
        # And a dead letter in the registry
        dead_letter(r, keys, 1, "provider_quota")

        # When an operator opens the page with the token link
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.goto(f"{app.url}/ops?token={TOKEN}")
        # Then the token leaves the URL and the page renders
        assert page.url == f"{app.url}/ops"
        assert page.locator("h1").inner_text() == "paceline — operations"
        # And the chart's last point is the ledger's spend today, labelled in dollars
        now_label = page.locator("#spend-now")
        assert now_label.get_attribute("data-spent-micros") == str(spent)
        assert now_label.text_content() == f"{fmt_usd(spent)} now"
        points = page.locator("circle.spend-point")
        assert points.last.get_attribute("data-spent-micros") == str(spent)
        assert page.locator("#pace-line").count() == 1
        assert page.locator("#spent-usd").inner_text() == fmt_usd(spent)
        assert page.locator("#tenants tr[data-tenant='acme']").count() == 1
        row = page.locator("#dead-letters tr[data-reason='provider_quota'] td")
        assert row.nth(1).inner_text() == "1"
        page.screenshot(path=SCREENSHOT, full_page=True)

        # When the operator requeues that reason: a priced dry run, then the confirm
        page.locator("#dead-letters tr[data-reason='provider_quota'] button").click()
        assert "Dry run: 1 tickets" in page.locator("#notice").inner_text()
        page.locator("#confirm").click()
        # Then the dead letter is in the redrive lane's queue and gone from the registry
        assert page.locator("#requeued-count").inner_text() == "1"
        assert r.llen(f"{keys.dramatiq_namespace}:{Lane.REDRIVE.queue_name}") == 1
        assert DeadLetterRegistry(r, keys).size() == 0

        # And a browser without the cookie is refused
        stranger = browser.new_context().new_page()
        refused = stranger.goto(f"{app.url}/ops")
        assert refused is not None and refused.status == 401
        assert "spend-chart" not in stranger.content()
