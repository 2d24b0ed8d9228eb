"""`/ops` over real HTTP: who may see it, the cookie, the form token, the requeue rules."""

from __future__ import annotations

import re

import httpx
import redis
from fastapi.testclient import TestClient

from producers.webhook.app import create_app
from producers.webhook.ops_auth import SESSION_TTL_S
from shared.clock import ManualClock
from shared.keys import Keys
from shared.models import Lane
from shared.stores.dead_letters import DeadLetterRegistry
from tests.conftest import make_settings
from tests.helpers import WebhookServer
from tests.producers.webhook.ops_seed import dead_letter

TOKEN = "ops-token-for-tests-1234"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _form_token(html: str) -> str:
    found = re.search(r'<meta name="ops-form-token" content="([0-9a-f]+)">', html)
    assert found, "the page carries no form token"
    return found.group(1)


def test_refused_without_the_setting(namespace: str) -> None:
    # Given no PACELINE_OPS_TOKEN
    with WebhookServer(make_settings(namespace)) as app:
        # When anyone asks, even with a token
        resp = httpx.get(f"{app.url}/ops", headers=BEARER)
        post = httpx.post(f"{app.url}/ops/dlq/requeue", headers=BEARER, data={"reason": "x"})
    # Then the page is off
    assert resp.status_code == 403 and post.status_code == 403


def test_bearer_cookie_and_refusals(namespace: str) -> None:
    settings = make_settings(namespace, ops_token=TOKEN)
    with WebhookServer(settings) as app:
        # Given no credentials, or a wrong one: 401, no page
        assert httpx.get(f"{app.url}/ops").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.get(f"{app.url}/ops", headers=wrong).status_code == 401
        assert httpx.get(f"{app.url}/ops?token=nope").status_code == 401
        # When the bearer token is sent: the page
        page = httpx.get(f"{app.url}/ops", headers=BEARER)
        assert page.status_code == 200 and "spend-chart" in page.text
        assert page.headers["cache-control"] == "no-store"
        # When the token comes in the query: an HttpOnly cookie (not the token) and a redirect
        with httpx.Client(base_url=app.url) as browser:
            first = browser.get(f"/ops?token={TOKEN}")
            assert first.status_code == 303 and first.headers["location"] == "/ops"
            cookie = first.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
            again = browser.get("/ops")
            assert again.status_code == 200
            form = _form_token(again.text)
            # And a POST with the cookie but no form token, or from another origin, is refused
            no_token = browser.post("/ops/dlq/requeue", data={"reason": "x"})
            assert no_token.status_code == 403
            foreign = browser.post(
                "/ops/dlq/requeue",
                data={"reason": "x", "form_token": form},
                headers={"Origin": "http://evil.example"},
            )
            assert foreign.status_code == 403
            ok = browser.post("/ops/dlq/requeue", data={"reason": "x", "form_token": form})
            assert ok.status_code == 200 and "Nothing to requeue" in ok.text


def test_requeue_over_the_redrive_allowance_is_refused(namespace: str, r: redis.Redis) -> None:
    keys = Keys(namespace)
    # Given a $0.02 day (30% kept for live) and 10 dead tickets whose worst case exceeds it
    for i in range(10):
        dead_letter(r, keys, i, "http_500")
    settings = make_settings(
        namespace, ops_token=TOKEN, daily_ceiling_usd="0.02", user_daily_cap_usd="0.01"
    )
    with WebhookServer(settings) as app:
        form = _form_token(httpx.get(f"{app.url}/ops", headers=BEARER).text)
        # When the operator asks to requeue them, and even confirms
        for confirm in ("0", "1"):
            resp = httpx.post(
                f"{app.url}/ops/dlq/requeue",
                headers=BEARER,
                data={"reason": "http_500", "form_token": form, "confirm": confirm},
            )
            # Then it is refused with the numbers, and nothing moved
            assert resp.status_code == 409, resp.text
            assert "Requeue refused" in resp.text and "live reserve $0.0060" in resp.text
    assert DeadLetterRegistry(r, keys).size() == 10
    assert r.llen(f"{keys.dramatiq_namespace}:{Lane.REDRIVE.queue_name}") == 0


def test_dry_run_first_then_requeue(namespace: str, r: redis.Redis) -> None:
    keys = Keys(namespace)
    # Given two dead letters of one reason and one of another
    for i in range(2):
        dead_letter(r, keys, i, "context_length")
    dead_letter(r, keys, 9, "http_500")
    settings = make_settings(namespace, ops_token=TOKEN)
    with WebhookServer(settings) as app:
        form = _form_token(httpx.get(f"{app.url}/ops", headers=BEARER).text)
        data = {"reason": "context_length", "form_token": form}
        # When the operator presses "Requeue": a priced dry run, nothing sent
        dry = httpx.post(f"{app.url}/ops/dlq/requeue", headers=BEARER, data=data)
        assert dry.status_code == 200 and "Dry run: 2 tickets" in dry.text
        assert "Confirm requeue" in dry.text
        assert r.llen(f"{keys.dramatiq_namespace}:{Lane.REDRIVE.queue_name}") == 0
        # And confirms: both go to the redrive lane, the other reason stays
        done = httpx.post(
            f"{app.url}/ops/dlq/requeue", headers=BEARER, data={**data, "confirm": "1"}
        )
        assert done.status_code == 200 and "id='requeued-count'>2<" in done.text
    assert r.llen(f"{keys.dramatiq_namespace}:{Lane.REDRIVE.queue_name}") == 2
    assert [e.reason for e in DeadLetterRegistry(r, keys).iter_entries()] == ["http_500"]


def test_the_page_shows_the_live_lane_plan_and_slo(namespace: str, r: redis.Redis) -> None:
    import time

    from shared.clock import budget_day
    from shared.stores.live_plan import LivePlan, write_plan

    settings = make_settings(namespace, ops_token=TOKEN)
    keys = Keys(namespace)
    day = budget_day(time.time(), settings.tz)
    # Given a scheduler's plan (the cheaper model, a forecast) and today's first responses
    pipe = r.pipeline()
    write_plan(pipe, keys, LivePlan(
        plan_ms=int(time.time() * 1000), plan_day=day, live_rung=2, live_model="gpt-4.1-nano",
        reserve_rung=2, live_reserve=30_000_000, live_floor=0, live_wait_ms=0,
        forecast_tickets=4_321, forecast_basis="history", cost_micros=700,
        projected_micros=49_500_000, line=0,
    ))  # fmt: skip
    pipe.hset(keys.demand_slo(day), mapping={"within": 3, "handoff_within": 1})
    pipe.execute()
    with WebhookServer(settings) as app:
        html = httpx.get(f"{app.url}/ops", headers=BEARER).text
    # Then the operator sees the rung, the forecast, the projection and the SLO compliance
    for needle in ("gpt-4.1-nano (2)", "4,321 tickets (history)", "$49.50", "$30.00",
                   "100.0% of 4", "first response within 900 s"):  # fmt: skip
        assert needle in html, needle


def test_non_ascii_credentials_are_refused_never_a_500(namespace: str) -> None:
    # Given the ops page on, and credentials holding characters outside ASCII
    with WebhookServer(make_settings(namespace, ops_token=TOKEN)) as app:
        cookie = {"Cookie": "paceline_ops=s\xe9ssion.1.m\xe4c".encode("latin-1")}
        bearer = {"Authorization": "Bearer t\xf6ken".encode("latin-1")}
        # When they are sent as a cookie, a bearer token, a query token / Then 401
        assert httpx.get(f"{app.url}/ops", headers=cookie).status_code == 401
        assert httpx.get(f"{app.url}/ops", headers=bearer).status_code == 401
        assert httpx.get(f"{app.url}/ops", params={"token": "t\u00f6ken"}).status_code == 401
        # And a form token with them, on an allowed request / Then 403, not a 500
        posted = httpx.post(
            f"{app.url}/ops/dlq/requeue",
            headers=BEARER,
            data={"reason": "x", "form_token": "\u00e9"},
        )
        assert posted.status_code == 403


def test_the_session_cookie_is_a_fresh_session_with_a_max_age(namespace: str) -> None:
    with WebhookServer(make_settings(namespace, ops_token=TOKEN)) as app:
        # When the operator logs in twice
        cookies = []
        for _ in range(2):
            resp = httpx.get(f"{app.url}/ops", params={"token": TOKEN})
            assert resp.status_code == 303
            cookies.append(resp.headers["set-cookie"])
        # Then each login is its own session (a new id), with a Max-Age, never the token
        values = [c.split(";", 1)[0] for c in cookies]
        assert values[0] != values[1]
        assert all(f"Max-Age={SESSION_TTL_S}" in c for c in cookies)
        assert all(TOKEN not in c for c in cookies)
        # And each still lets its browser in, with a form token of its own
        pages = [httpx.get(f"{app.url}/ops", headers={"Cookie": value}) for value in values]
        assert all(p.status_code == 200 for p in pages)
        assert _form_token(pages[0].text) != _form_token(pages[1].text)
        # And one session's form token does not work with the other's cookie
        crossed = httpx.post(
            f"{app.url}/ops/dlq/requeue",
            headers={"Cookie": values[1]},
            data={"reason": "x", "form_token": _form_token(pages[0].text)},
        )
        assert crossed.status_code == 403


def test_a_session_expires(namespace: str, r: redis.Redis) -> None:
    # Given the app on a clock we move, and a session taken now
    clock = ManualClock(1_795_000_000.0)
    app = create_app(make_settings(namespace, ops_token=TOKEN), clock=clock, redis_client=r)
    with TestClient(app, base_url="http://testserver") as client:
        login = client.get("/ops", params={"token": TOKEN}, follow_redirects=False)
        value = login.headers["set-cookie"].split(";", 1)[0]
        assert client.get("/ops", headers={"Cookie": value}).status_code == 200
        # When its Max-Age has passed / Then the cookie no longer lets anyone in
        clock.advance(SESSION_TTL_S + 1)
        assert client.get("/ops", headers={"Cookie": value}).status_code == 401


def test_the_cookie_is_secure_over_https_or_when_the_setting_says(namespace: str) -> None:
    def set_cookie(app_url: str, **headers: str) -> str:
        resp = httpx.get(f"{app_url}/ops", params={"token": TOKEN}, headers=headers)
        return resp.headers["set-cookie"]

    # Given plain HTTP and no setting / Then not Secure (a browser would drop it)
    with WebhookServer(make_settings(namespace, ops_token=TOKEN)) as app:
        assert "Secure" not in set_cookie(app.url)
        # When a trusted proxy (loopback, uvicorn's default) says the client used HTTPS
        assert "Secure" in set_cookie(app.url, **{"X-Forwarded-Proto": "https"})
    # When PACELINE_OPS_SECURE_COOKIE is set / Then Secure even over plain HTTP
    secure = make_settings(namespace, ops_token=TOKEN, ops_secure_cookie="true")
    with WebhookServer(secure) as app:
        assert "Secure" in set_cookie(app.url)
