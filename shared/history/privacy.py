"""What the history keeps of a person: transcripts under a redaction mode and a retention, and
a keyed hash in place of a forgotten requester's id."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from shared.errors import SettingsError
from shared.redact import mask_emails, mask_phones
from shared.settings import Settings

DAY_MS = 24 * 3600 * 1000
PSEUDONYM_PREFIX = "anon:"


def pseudonym(key: bytes, tenant_id: str, requester: str) -> str:
    """The keyed hash that replaces a requester's id: stable (a forgotten requester's rows
    still group together), not reversible without the key, different per tenant."""
    digest = hmac.new(key, f"{tenant_id}\x00{requester}".encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:32]


def mask_personal(text: str) -> str:
    return mask_phones(mask_emails(text))


@dataclass(frozen=True)
class TranscriptPolicy:
    redact: bool
    retention_ms: int
    pseudonym_key: bytes | None

    @classmethod
    def from_settings(cls, settings: Settings) -> TranscriptPolicy:
        key = settings.pseudonym_key
        return cls(
            redact=settings.transcript_redaction == "mask",
            retention_ms=settings.transcript_retention_days * DAY_MS,
            pseudonym_key=key.get_secret_value().encode() if key else None,
        )

    def transcript(self, text: str | None, at_ms: int, now_ms: int) -> str | None:
        """The text as stored: None past the retention, masked when redaction is on."""
        if text is None or at_ms < now_ms - self.retention_ms:
            return None
        return mask_personal(text) if self.redact else text

    def require_key(self) -> bytes:
        if self.pseudonym_key is None:
            raise SettingsError("PACELINE_PSEUDONYM_KEY: required to pseudonymise requesters")
        return self.pseudonym_key
