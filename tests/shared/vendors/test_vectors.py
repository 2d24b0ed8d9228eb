"""Fixed signature vectors: our verifiers agree with values computed outside Python.

The Intercom vector is the one in field-notes.md. The others were computed with the
`openssl dgst -hmac` command line (not published by the vendors); the Zendesk one uses the
static secret Zendesk documents for signing test deliveries.
"""

from __future__ import annotations

import pytest

from shared.errors import SettingsError, SignatureError
from shared.vendors.base import Inbound
from shared.vendors.registry import build_sources
from tests.conftest import make_settings

ZENDESK_TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="

# (source, secret, body, headers, the moment it was checked at)
VECTORS = [
    (
        "intercom",
        "asdffdsa",
        b'{"id":123}',
        {"x-hub-signature": "sha1=6215ca89eeadf9840f24b47374a5b04cfb09376c"},
        0.0,
    ),
    (
        "zendesk",
        ZENDESK_TEST_SECRET,
        b'{"id":"1"}',
        {
            "x-zendesk-webhook-signature": "m418atz/no3S+t7l1AyFarVWuAAcpCY9yHDwl84NjjE=",
            "x-zendesk-webhook-signature-timestamp": "2026-11-23T10:00:00Z",
        },
        1_795_428_000.0,
    ),
    (
        "front",
        "front-secret",
        b'{"id":"evt_1"}',
        {
            "x-front-signature": "UY9KiaTkMlN54+gTUyn8Wm/ulOSDq54IBUUU4oNSd+Q=",
            "x-front-request-timestamp": "1795000000000",
        },
        1_795_000_000.0,
    ),
    (
        "helpscout",
        "hs-secret",
        b'{"id":1}',
        {"x-helpscout-signature": "Pbx/x3SdWsdj0x9/lL0MYJdUQoo="},
        0.0,
    ),
    (
        "jira",
        "jira-secret",
        b'{"id":1}',
        {
            "x-hub-signature": "sha256="
            "140bc13eb8caa0e60b4c9c443b025b1678dcc32bb612fc470933cee41e0f0a33"
        },
        0.0,
    ),
    (
        "generic",
        "whsec",
        b'{"event_id":"evt-1"}',
        {
            "x-paceline-signature": "sha256="
            "6b856ec01e3be2faea0bb80cdcab69d8b4a9bdfcd0a1db8322f0714ac85636e1",
            "x-paceline-timestamp": "1795000000",
        },
        1_795_000_010.0,
    ),
]


def inbound(body: bytes, headers: dict[str, str], now_s: float) -> Inbound:
    return Inbound(body=body, headers=headers, now_s=now_s, tolerance_s=300, tenant="t")


@pytest.mark.parametrize(("source", "secret", "body", "headers", "now_s"), VECTORS)
def test_vector_verifies(
    source: str, secret: str, body: bytes, headers: dict[str, str], now_s: float
) -> None:
    # Given a vector computed outside our code / When verified / Then it passes
    build_sources()[source].verify(inbound(body, headers, now_s), secret.encode())


@pytest.mark.parametrize(("source", "secret", "body", "headers", "now_s"), VECTORS)
def test_vector_fails_with_one_body_byte_changed(
    source: str, secret: str, body: bytes, headers: dict[str, str], now_s: float
) -> None:
    # Given the same vector with the last body byte changed / Then verification fails
    changed = body[:-1] + b"]"
    with pytest.raises(SignatureError):
        build_sources()[source].verify(inbound(changed, headers, now_s), secret.encode())


def test_the_field_notes_vector_secret_is_too_weak_to_configure(namespace: str) -> None:
    # Given the field-notes vector's secret (8 bytes): it verifies above, at the source
    # When it is configured as a signing secret / Then the process refuses to start
    with pytest.raises(SettingsError, match="PACELINE_WEBHOOK_SECRET_INTERCOM: too weak"):
        make_settings(namespace, webhook_secret_intercom="asdffdsa")
