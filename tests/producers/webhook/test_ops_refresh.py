"""`/ops` reads like the CLI: it reloads itself quietly (off with `?refresh=0`), shows times in
local ISO and money in one format, and ticket-derived text escaped."""

from __future__ import annotations

import re

import httpx
import redis

from shared.clock import SystemClock
from shared.keys import Keys
from shared.ledger import Ledger
from shared.stores.circuit import ProviderCircuit
from tests.conftest import make_settings
from tests.helpers import WebhookServer

TOKEN = "ops-refresh-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
_ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"


def _refresh(html: str) -> str | None:
    found = re.search(r'<meta http-equiv="refresh" content="(\d+)">', html)
    return found.group(1) if found else None


def test_the_page_refreshes_itself_unless_told_not_to(namespace: str) -> None:
    with WebhookServer(make_settings(namespace, ops_token=TOKEN)) as app:
        page = httpx.get(f"{app.url}/ops", headers=BEARER)
        assert page.status_code == 200 and _refresh(page.text) == "30"
        assert "Refreshes every 30 s" in page.text
        off = httpx.get(f"{app.url}/ops?refresh=0", headers=BEARER)
        assert _refresh(off.text) is None and "Not refreshing" in off.text
        fast = httpx.get(f"{app.url}/ops?refresh=1", headers=BEARER)
        assert _refresh(fast.text) == "5"  # never more often than every 5 s
        # And the answer to a requeue (a POST) does not reload itself
        form = re.search(r'name="ops-form-token" content="([0-9a-f]+)"', page.text)
        assert form
        post = httpx.post(
            f"{app.url}/ops/dlq/requeue",
            headers=BEARER,
            data={"form_token": form.group(1), "reason": "nothing-here"},
        )
        assert post.status_code == 200 and _refresh(post.text) is None


def test_times_are_local_iso_and_money_one_format(namespace: str, r: redis.Redis) -> None:
    settings = make_settings(namespace, ops_token=TOKEN, circuit_min_calls=1)
    keys = Keys(namespace)
    # Given spend for a tenant and an open provider circuit
    ledger = Ledger(r, keys, settings, SystemClock())
    r.hset(keys.books(ledger.day()), mapping={"spent:global": 1234, "spent:tenant:acme": 1234})
    circuit = ProviderCircuit(r, keys, settings, SystemClock())
    circuit.record(False)
    with WebhookServer(settings) as app:
        html = httpx.get(f"{app.url}/ops", headers=BEARER).text
    # Then the page's time and the circuit's retry time are local ISO, never epoch ms
    assert re.search(r"id=\"rendered-at\">" + _ISO, html), html[:2000]
    circuit_row = html[html.index('id="circuit"') :]
    assert re.search(_ISO, circuit_row) and not re.search(r">\d{13}<", circuit_row)
    # And every amount is $ with four places
    acme = re.search(r"data-tenant='acme'>(.*?)</tr>", html)
    assert acme and re.findall(r"\$\d+\.\d+", acme.group(1)) == ["$0.0012", "$0.0000", "$10.0000"]
    assert re.search(r'id="ceiling-usd">\$50\.0000<', html)
