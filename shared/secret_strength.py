"""Which signing secrets and tokens are too weak to accept: checked at start, never at use.

A webhook signing secret or the ops token that is short, blank or a well-known placeholder is
one an attacker can guess (or that a template shipped), so a process refuses to start with it.
Provider API keys are exempt: local gateways legitimately accept placeholders like `ollama`.
"""

from __future__ import annotations

MIN_SECRET_BYTES = 16
# Values that templates, examples and tutorials ship; compared without case or separators.
PLACEHOLDERS = frozenset(
    {"replaceme", "changeme", "changeit", "secret", "password", "passw0rd", "token", "example",
     "test", "testing", "default", "admin", "placeholder", "yoursecret", "mysecret",
     "webhooksecret", "supersecret", "letmein", "todo", "none", "null", "xxx", "123456"}
)  # fmt: skip
# Words that mark a template value whatever surrounds them ("REPLACE_ME_WITH_A_SECRET").
PLACEHOLDER_WORDS = ("replaceme", "changeme", "yoursecret", "placeholder")


def weakness(value: str) -> str | None:
    """Why `value` is too weak to sign webhooks or guard `/ops`, or None when it will do."""
    if not value.strip():
        return "blank"
    folded = "".join(c for c in value.lower() if c.isalnum())
    if folded in PLACEHOLDERS or any(word in folded for word in PLACEHOLDER_WORDS):
        return "a placeholder"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"shorter than {MIN_SECRET_BYTES} bytes"
    if len(set(value)) == 1:
        return "one character repeated"
    return None


HOW_TO_MAKE_ONE = "generate one with `openssl rand -hex 32`"
