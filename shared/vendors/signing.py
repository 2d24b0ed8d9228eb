"""HMAC helpers shared by the sources: constant-time compares and timestamp windows."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from shared.errors import SignatureError


def hmac_digest(secret: bytes, payload: bytes, algo: str) -> bytes:
    return hmac.new(secret, payload, getattr(hashlib, algo)).digest()


def hmac_hex(secret: bytes, payload: bytes, algo: str = "sha256") -> str:
    return hmac_digest(secret, payload, algo).hex()


def hmac_b64(secret: bytes, payload: bytes, algo: str = "sha256") -> str:
    return base64.b64encode(hmac_digest(secret, payload, algo)).decode("ascii")


def require(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise SignatureError(f"missing {what}")
    return value.strip()


def same(given: str, expected: str) -> None:
    """Constant-time compare; header text may hold any latin-1 character, so compare bytes."""
    if not hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    ):
        raise SignatureError("signature does not match")


def check_age(signed_at_s: float, now_s: float, tolerance_s: int) -> None:
    """Refuse replays: the signed timestamp must be within the tolerance, both ways."""
    if abs(now_s - signed_at_s) > tolerance_s:
        raise SignatureError("timestamp outside the tolerance window")


def parse_unix_s(raw: str) -> float:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15:
        raise SignatureError("timestamp is not unix seconds")
    return float(raw)


def parse_iso_s(raw: str) -> float:
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise SignatureError("timestamp is not ISO-8601") from None
    if parsed.tzinfo is None:
        raise SignatureError("timestamp has no time zone")
    return parsed.timestamp()
