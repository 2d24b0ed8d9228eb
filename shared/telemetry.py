"""Error reporting (Sentry) that never carries an email, a ticket's text or a secret.

Call `init_sentry` in a process's entry point BEFORE `build_broker`: sentry-sdk's dramatiq
integration patches `Broker.__init__`, so a broker built earlier has no Sentry middleware.

What is sent: exceptions from actors and the webhook app, and ERROR log records. What is not:
- transient errors and budget deferrals (every attempt would be an event; a ticket that keeps
  failing is reported once, by `report_dead_letter`, when it is dead-lettered);
- dramatiq's message (it is the ticket), request bodies, local variables;
- any string that quotes the ticket in hand, an email address or a configured secret.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import sentry_sdk
from sentry_sdk.consts import DEFAULT_OPTIONS
from sentry_sdk.integrations import Integration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import Transport

from shared.errors import BudgetError, TransientError
from shared.redact import (
    SENSITIVE_KEYS,
    TextRedactor,
    current_ticket_texts,
    drop_sensitive_keys,
    secret_values,
    ticket_text,
)
from shared.redact import strings_in as _strings_in
from shared.settings import Settings

_DROPPED_ERRORS: tuple[type[BaseException], ...] = (TransientError, BudgetError)
_LONG_TEXT_CHARS = 40
_REQUEST_HEADERS_KEPT = frozenset({"content-type", "content-length", "user-agent", "host"})


__all__ = ["init_sentry", "report_dead_letter", "shutdown_sentry", "ticket_text"]


class DeadLetterLike(Protocol):
    ticket_id: str
    tenant_id: str
    reason: str
    lane: str
    attempts: int


class Scrubber:
    """The `before_send` and `before_breadcrumb` hooks; holds the secrets to mask."""

    def __init__(self, secrets: list[str]) -> None:
        self._secrets = secrets

    def _redactor(self, extra_texts: list[str]) -> TextRedactor:
        return TextRedactor([*current_ticket_texts(), *extra_texts], secrets=self._secrets)

    def before_send(self, event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        exc_info = hint.get("exc_info")
        if exc_info and isinstance(exc_info[1], _DROPPED_ERRORS):
            return None
        contexts = dict(event.get("contexts") or {})
        # dramatiq's integration attaches the whole message: its args are the ticket. Learn
        # its text first (so quotes of it elsewhere are masked), then drop it.
        texts = _message_texts(contexts.pop("dramatiq", {}).get("data") or {})
        texts += _current_message_strings()
        texts += _sensitive_strings(event.get("extra"))
        texts += _sensitive_strings(contexts)
        for crumb in _crumbs(event):
            texts += _sensitive_strings(crumb.get("data"))
        contexts["dramatiq"] = {"type": "dramatiq"}
        event["contexts"] = drop_sensitive_keys(contexts)
        event["extra"] = drop_sensitive_keys(event.get("extra") or {})
        if isinstance(event.get("logentry"), dict):
            event["logentry"].pop("params", None)
        _strip_request(event)
        if isinstance(event.get("user"), dict):
            event["user"] = {k: v for k, v in event["user"].items() if k == "id"}
        for crumb in _crumbs(event):
            if "data" in crumb:
                crumb["data"] = drop_sensitive_keys(crumb["data"])
        _drop_frame_vars(event)
        redacted: dict[str, Any] = self._redactor(texts).redact_all(event)
        return redacted

    def before_breadcrumb(
        self, crumb: dict[str, Any], hint: dict[str, Any]
    ) -> dict[str, Any] | None:
        texts = _sensitive_strings(crumb.get("data"))
        if "data" in crumb:
            crumb = {**crumb, "data": drop_sensitive_keys(crumb["data"])}
        redacted: dict[str, Any] = self._redactor(texts).redact_all(crumb)
        return redacted


def _current_message_strings() -> list[str]:
    """The strings of the dramatiq message this thread is processing (the ticket), if any.

    Read through dramatiq's `CurrentMessage` middleware, which `build_broker` installs: with
    bodies off, the sdk no longer attaches the message, but an error may still quote it.
    """
    try:
        from dramatiq.middleware import CurrentMessage
    except ImportError:
        return []
    message = CurrentMessage.get_current_message()
    if message is None:
        return []
    return _message_texts([list(message.args), dict(message.kwargs)])


def _message_texts(payload: Any) -> list[str]:
    """Ticket text in a message payload: values under sensitive keys, and any long string.

    Short values outside those keys (ticket id, tenant, lane) stay readable in reports.
    """
    long_strings = [s for s in _strings_in(payload) if len(s) >= _LONG_TEXT_CHARS]
    return _sensitive_strings(payload) + long_strings


def _sensitive_strings(value: Any) -> list[str]:
    """Strings stored under a sensitive key anywhere in `value` (what is about to be dropped)."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and k.lower() in SENSITIVE_KEYS:
                found.extend(_strings_in(v))
            else:
                found.extend(_sensitive_strings(v))
    elif isinstance(value, list | tuple):
        for v in value:
            found.extend(_sensitive_strings(v))
    return found


def _crumbs(event: dict[str, Any]) -> list[dict[str, Any]]:
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    return [c for c in values or [] if isinstance(c, dict)]


def _strip_request(event: dict[str, Any]) -> None:
    request = event.get("request")
    if not isinstance(request, dict):
        return
    for field in ("data", "cookies", "query_string", "env"):
        request.pop(field, None)
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {
            k: v for k, v in headers.items() if k.lower() in _REQUEST_HEADERS_KEPT
        }


def _drop_frame_vars(event: dict[str, Any]) -> None:
    # include_local_variables=False already; this guards against an integration adding them.
    for exc in (event.get("exception") or {}).get("values") or []:
        for frame in (exc.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)


def _integrations() -> list[Integration]:
    # Breadcrumbs from WARNING up only: an INFO line per ticket would cost a scrub each.
    found: list[Integration] = [
        LoggingIntegration(level=logging.WARNING, event_level=logging.ERROR)
    ]
    try:
        from sentry_sdk.integrations.dramatiq import DramatiqIntegration
    except Exception:  # DidNotEnable, or an sdk without it: run without it
        return found
    found.append(DramatiqIntegration())
    return found


def _privacy_options() -> dict[str, Any]:
    """No PII, bodies, queue payloads or frame variables, in the sdk's current vocabulary.

    sentry-sdk 2.x after `data_collection` appeared warns on `send_default_pii` (and our tests
    turn warnings into errors); older 2.x only knows `send_default_pii`.
    """
    if "data_collection" not in DEFAULT_OPTIONS:
        return {"send_default_pii": False}
    return {
        "data_collection": {
            "user_info": False,
            "http_bodies": [],  # also keeps dramatiq's message (the ticket) off events
            "queues": False,
            "stack_frame_variables": False,
            "database_query_data": False,
            "gen_ai": {"inputs": False, "outputs": False},
        }
    }


def init_sentry(settings: Settings, *, component: str, transport: Transport | None = None) -> bool:
    """Start error reporting; False (and nothing done) when `PACELINE_SENTRY_DSN` is unset.

    Must run before the broker is built (see the module docstring).
    """
    # An empty value (a blank placeholder in a manifest) means off too.
    if settings.sentry_dsn is None or not settings.sentry_dsn.get_secret_value():
        return False
    scrubber = Scrubber(secret_values(settings))
    options: dict[str, Any] = _privacy_options()
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        release=settings.release,
        environment=settings.environment,
        integrations=_integrations(),
        # No auto-enabled integrations (redis, httpx, ...): they add a breadcrumb per Redis
        # command and per HTTP call, each through the scrubber, on the hot path of every ticket
        # (their cost is in docs/benchmarks.md).
        auto_enabling_integrations=False,
        max_breadcrumbs=30,
        max_request_body_size="never",
        include_local_variables=False,
        # sentry types events as TypedDicts; the scrubber works on them as plain dicts.
        before_send=scrubber.before_send,  # type: ignore[arg-type]
        before_breadcrumb=scrubber.before_breadcrumb,  # type: ignore[arg-type]
        **options,
    )
    sentry_sdk.set_tag("component", component)
    return True


def shutdown_sentry(timeout_s: float = 2.0) -> None:
    """Flush what is queued and detach the client (so later brokers get no Sentry middleware)."""
    client = sentry_sdk.get_client()
    client.close(timeout=timeout_s)
    sentry_sdk.get_global_scope().set_client(None)


def report_dead_letter(entry: DeadLetterLike) -> str | None:
    """One message-level event per dead-lettered ticket: reason, ticket id, tenant; no text.

    Returns the event id (None when Sentry is off). Grouped by reason, so one bad deploy is one
    issue with a count, not a thousand issues.
    """
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("reason", entry.reason)
        scope.set_tag("tenant", entry.tenant_id)
        scope.set_tag("lane", entry.lane)
        scope.set_extra("ticket_id", entry.ticket_id)
        scope.set_extra("attempts", entry.attempts)
        scope.fingerprint = ["dead-letter", entry.reason]
        return sentry_sdk.capture_message(f"ticket dead-lettered: {entry.reason}", level="error")
