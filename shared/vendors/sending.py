"""Signing a delivery as each vendor signs it: what `paceline send` attaches to a body, so an
operator can post a ticket by hand exactly as the vendor would (the Stripe CLI's `trigger`)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.vendors import freshdesk, front, generic, helpscout, intercom, jira, zendesk


def sign_delivery(source: str, secret: bytes, body: bytes, now_s: float) -> dict[str, str]:
    """The headers `source`'s webhook verifies, for `body` signed at `now_s`."""
    if source == "generic":
        return generic.sign(secret, body, int(now_s))
    if source == "zendesk":
        stamp = datetime.fromtimestamp(now_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return zendesk.sign(secret, body, stamp)
    if source == "intercom":
        return intercom.sign(secret, body)
    if source == "front":
        return front.sign(secret, body, int(now_s * 1000))
    if source == "helpscout":
        return helpscout.sign(secret, body)
    if source == "jira":
        return jira.sign(secret, body)
    if source == "freshdesk":
        return freshdesk.sign(secret)
    raise KeyError(source)
