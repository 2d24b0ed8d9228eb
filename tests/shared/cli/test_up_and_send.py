"""`paceline up` prints what an operator needs (webhook URL, the secret it made, the simulator
and its faults, /ops) and `paceline send` signs and posts with it: a ticket sent by hand is
answered. A PACELINE_REDIS_URL that is set and does not answer is an error, not a private
Redis the other commands would not see."""

from __future__ import annotations

import re
import signal
import threading
import time

import httpx
import pytest
import redis

from shared.keys import Keys
from shared.stores.outcomes import OutcomeStore
from tests.conftest import free_port
from tests.helpers import wait_for
from tests.shared.cli.helpers import clean_env, paceline, spawn


def _lines_until(proc: object, pattern: str, timeout_s: float) -> list[str]:
    """stderr lines of `proc` until one matches `pattern` (read in a thread: never blocks)."""
    got: list[str] = []
    done = threading.Event()

    def read() -> None:
        stream = proc.stderr  # type: ignore[attr-defined]
        for line in stream:
            got.append(line.rstrip("\n"))
            if re.search(pattern, line):
                done.set()
                return

    threading.Thread(target=read, daemon=True).start()
    done.wait(timeout_s)
    return got


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_up_prints_what_send_needs_and_a_hand_sent_ticket_is_answered(
    namespace: str, r: redis.Redis
) -> None:
    # Given the stack started with no generic secret and no ops token configured
    env = clean_env(namespace, pacing="off", metrics_port=0)
    up = spawn("up", "--port", "0", "--threads", "2", env=env)
    try:
        lines = _lines_until(up, r"^\s+ops\s", 60)
        text = "\n".join(lines)
        # Then it prints the webhook URL, the secret it made, the simulator with its faults
        # endpoint, and /ops with the token it made
        webhook = re.search(r"webhooks\s+(http://127\.0\.0\.1:\d+)/webhooks/<source>", text)
        secret = re.search(r"export PACELINE_WEBHOOK_SECRET_GENERIC=([0-9a-f]{32})", text)
        sim = re.search(
            r"simulator\s+(http://127\.0\.0\.1:\d+)/v1\s+faults: POST \S+/_sim/faults", text
        )
        ops = re.search(r"ops\s+(http://\S+/ops\?token=[0-9a-f]{32})", text)
        assert webhook and secret and sim and ops, text
        assert httpx.get(sim.group(1) + "/_sim/stats", timeout=5).status_code == 200
        assert httpx.get(ops.group(1), timeout=5, follow_redirects=True).status_code == 200
        # When a ticket is sent by hand with that secret
        send_env = {**env, "PACELINE_WEBHOOK_SECRET_GENERIC": secret.group(1)}
        sent = paceline("send", "--example", "--url", webhook.group(1), env=send_env)
        # Then it is accepted, and the stack answers it
        assert sent.returncode == 0, sent.stderr
        job = re.match(r"accepted: job (\S+)", sent.stdout)
        assert job, sent.stdout
        store = OutcomeStore(r, Keys(namespace))
        assert wait_for(lambda: store.summary()["answered"] + store.summary()["escalated"] == 1, 60)
        # And a wrong secret is refused in one line with the config exit code
        bad = paceline(
            "send", "--example", "--url", webhook.group(1),
            env={**env, "PACELINE_WEBHOOK_SECRET_GENERIC": "not-the-secret-at-all"},
        )  # fmt: skip
        assert bad.returncode == 3 and "answered 401" in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=30)
        finally:
            if up.poll() is None:
                up.kill()
            for stream in (up.stdout, up.stderr):
                if stream:
                    stream.close()
    assert up.returncode == 0


def test_up_refuses_a_set_redis_url_that_does_not_answer(namespace: str) -> None:
    # Given PACELINE_REDIS_URL set to a port nothing listens on
    env = clean_env(namespace, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    # When the stack is started
    done = paceline("up", "--port", "0", env=env, timeout_s=60)
    # Then it stops at once in one line: no private Redis the other commands would not see
    assert done.returncode == 4, done.stderr
    assert "does not answer" in done.stderr and "unset PACELINE_REDIS_URL" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 30


def test_send_needs_a_secret_and_a_listening_app(namespace: str) -> None:
    env = clean_env(namespace)
    # Without a secret: a config error naming the setting
    done = paceline("send", "--example", env=env)
    assert done.returncode == 3 and "PACELINE_WEBHOOK_SECRET_GENERIC" in done.stderr
    # With one, but nothing listening: unreachable, one line
    env["PACELINE_WEBHOOK_SECRET_GENERIC"] = "send-test-secret-0123456789abcdef"
    done = paceline("send", "--example", "--url", f"http://127.0.0.1:{free_port()}", env=env)
    assert done.returncode == 4 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
