"""The checks behind `paceline check`: each returns one row, and none raises.

A row's status is `ok`, `warn` (works, but worth knowing) or `fail` (a process would refuse to
start, or every ticket would fail). Checks that need the settings are skipped when they fail.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from shared.settings import WEBHOOK_SOURCES, Settings, price_table

# Past this the leases, pace and day boundaries computed here and in Redis disagree visibly.
CLOCK_WARN_MS = 500
CLOCK_FAIL_MS = 5_000
PROVIDER_TIMEOUT_S = 5.0


@dataclass
class Row:
    name: str
    status: str  # ok | warn | fail
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, **self.data}


def check_redis(settings: Settings) -> list[Row]:
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        before_s = time.time()
        seconds, micros = client.time()
        after_s = time.time()
        version = str(client.info("server").get("redis_version", "?"))
    except redis.RedisError as exc:
        return [Row("redis", "fail", f"no answer at the Redis URL ({type(exc).__name__})")]
    finally:
        client.close()
    offset_ms = round((before_s + after_s) / 2 * 1000 - (seconds * 1000 + micros / 1000))
    level = "fail" if abs(offset_ms) > CLOCK_FAIL_MS else "ok"
    level = "warn" if level == "ok" and abs(offset_ms) > CLOCK_WARN_MS else level
    return [
        Row("redis", "ok", f"Redis {version}", {"version": version}),
        Row("clock", level, f"{offset_ms:+d} ms from Redis's clock", {"offset_ms": offset_ms}),
    ]


def check_broker(settings: Settings) -> Row:
    url = settings.effective_broker_url
    if url == settings.redis_url:
        return Row("broker", "ok", "Redis (the same server)", {"kind": "redis"})
    if url.startswith(("amqp://", "amqps://")):
        import pika

        try:
            params = pika.URLParameters(url)
            params.socket_timeout = params.blocked_connection_timeout = 2
            connection = pika.BlockingConnection(params)
        except Exception as exc:  # pika raises many unrelated types; any is "no answer"
            return Row("broker", "fail", f"no answer from RabbitMQ ({type(exc).__name__})")
        try:
            props = connection._impl.server_properties
            version = props.get("version", b"?")
            version = version.decode() if isinstance(version, bytes) else str(version)
        finally:
            connection.close()
        return Row("broker", "ok", f"RabbitMQ {version}", {"kind": "rabbitmq", "version": version})
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        version = str(client.info("server").get("redis_version", "?"))
    except redis.RedisError as exc:
        return Row("broker", "fail", f"no answer from the broker's Redis ({type(exc).__name__})")
    finally:
        client.close()
    return Row("broker", "ok", f"Redis {version}", {"kind": "redis", "version": version})


def check_provider(settings: Settings) -> list[Row]:
    """The endpoint answers with the configured key, and offers every configured model."""
    import openai

    from workers.agent.llm import build_sdk_client

    sdk = build_sdk_client(settings).with_options(timeout=PROVIDER_TIMEOUT_S)
    where = "Azure OpenAI" if settings.llm_provider == "azure" else "the provider"
    try:
        offered = {m.id for m in sdk.models.list()}
    except openai.AuthenticationError:
        return [Row("provider", "fail", f"{where} refused the configured key (401)")]
    except openai.APIStatusError as exc:
        return [Row("provider", "fail", f"{where} answered {exc.status_code} to its model list")]
    except openai.APIError as exc:
        return [Row("provider", "fail", f"no answer from {where} ({type(exc).__name__})")]
    rows = [Row("provider", "ok", f"{where} answers; {len(offered)} models offered")]
    prices = price_table(settings)
    for setting_name, models in settings.configured_models.items():
        for model in models:
            price = prices.price(model)
            there = _deployed(sdk, model) if settings.llm_provider == "azure" else model in offered
            billed = prices.priced_as(model)
            detail = f"{model} (priced as {billed}: ${price.input / 1e6:g}/${price.output / 1e6:g}"
            detail += " per 1M in/out)" + ("" if there else " is not offered by the provider")
            rows.append(Row(f"model {setting_name}", "ok" if there else "fail", detail,
                            {"model": model, "priced_as": billed, "offered": there}))  # fmt: skip
    sdk.close()
    return rows


def _deployed(sdk: Any, deployment: str) -> bool:
    """Azure lists models, not deployments: an empty request costs nothing and is answered
    400 by a deployment that exists, 404 `DeploymentNotFound` by one that does not."""
    import openai

    try:
        sdk.chat.completions.create(model=deployment, messages=[], max_tokens=1)
    except openai.NotFoundError:
        return False
    except openai.APIStatusError:
        return True
    return True


def check_webhooks(settings: Settings) -> Row:
    from shared.errors import SettingsError
    from shared.tenants import load_tenants

    sources = [s for s in WEBHOOK_SOURCES if settings.webhook_secret(s)]
    try:
        # As a process would at start: the profiles' variables set, their models priced.
        tenants = load_tenants(settings, prices=price_table(settings))
    except SettingsError as exc:
        return Row("webhooks", "fail", str(exc), {"sources": sources})
    keyed = sorted({tenant for tenant, _source in tenants.webhook_secrets})
    detail = {"sources": sources, "tenants": keyed}
    if not sources and not keyed:
        return Row("webhooks", "warn", "no source has a secret: every webhook is refused", detail)
    said = ", ".join(sources) or "no source-wide key"
    if keyed:
        said += f"; own keys for {len(keyed)} tenant(s)"
    return Row("webhooks", "ok", said, detail)


def check_outbound(settings: Settings) -> Row:
    if settings.allow_private_networks:
        said = "PACELINE_ALLOW_PRIVATE_NETWORKS=true: replies may reach private addresses"
        return Row("outbound", "warn", said, {"private": True})
    return Row(
        "outbound", "ok", "replies refuse loopback and private addresses", {"private": False}
    )


def check_ops_token(settings: Settings) -> Row:
    if settings.ops_token is None:
        return Row("ops token", "warn", "not set: /ops is refused", {"set": False})
    return Row("ops token", "ok", "set", {"set": True})
