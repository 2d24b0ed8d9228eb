"""Redaction shared by logs and error reports: emails, ticket text and secrets never leave.

Three tools, from cheapest to most specific:
- `mask_emails`: a regex over any string (an email is personal data wherever it appears).
- `drop_sensitive_keys`: removes mapping entries whose key names ticket text (`body`, ...).
- `TextRedactor`: knows the text of the ticket(s) in hand and redacts any string that quotes a
  long enough piece of it, so an exception message that embeds a ticket's body is caught too.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import SecretStr

# Any script (an address may be internationalised) and the fullwidth and small `@` forms; the
# top-level domain must be letters, so a release like "paceline@0.1.0" is not an email.
EMAIL_RE = re.compile(r"[\w.%+\-]+[@\uff20\ufe6b](?:[\w\-]+\.)+[^\W\d_]{2,}")
EMAIL_MASK = "[email]"
# A phone number: "+" and 7-15 digits with any separators, or 2-4 groups of digits split by
# spaces, dots or dashes (7-15 digits in all). A bare run of digits (an order number) and an
# ISO date are not phone numbers.
PHONE_RE = re.compile(
    r"(?<![\w.+\-])(?:\+\d[\d\s().\-]{5,22}\d"
    r"|\(?\d{2,5}\)?[\s.\-]\d{2,5}(?:[\s.\-]\d{2,5}){0,3})(?![\w]|[.\-]\d)"
)
ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
PHONE_MASK = "[phone]"
TEXT_MASK = "[ticket text]"
SECRET_MASK = "[secret]"  # noqa: S105 - the mask, not a secret

# Keys whose values are ticket text or carry it (dramatiq's message args hold the ticket).
SENSITIVE_KEYS = frozenset(
    {"body", "subject", "text", "ticket", "messages", "args", "kwargs", "reply", "prompt",
     "content", "email", "requester"}
)  # fmt: skip

# A quote shorter than this is not treated as ticket text: short runs ("the order") are common
# in any message, and masking them would make error reports unreadable.
MIN_QUOTE_CHARS = 16
# Texts shorter than this are not worth matching (a ticket id, a one-word subject).
MIN_TEXT_CHARS = 8
# Bound the work per event: a huge ticket only contributes its first part.
MAX_TEXT_CHARS = 20_000


# What a provider or vendor credential looks like, wherever it appears: OpenAI/Anthropic keys,
# AWS access key ids, GitHub and Slack tokens, JWTs.
KEY_SHAPES = re.compile(
    r"\bsk-[A-Za-z0-9_\-]{16,}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}"
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}|\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\."
)
# A configured value is treated as a secret from this length on, whatever it looks like...
SECRET_MIN_CHARS = 16
# ...or, shorter, when guessing it would take this many bits: its length times log2 of the
# alphabet its character classes span ("whsec-42xyz" ~67 bits, ten random letters and
# digits ~60; "lm-studio" ~53, "sk-1234" ~43).
SECRET_MIN_BITS = 56
SECRET_MIN_SHORT_CHARS = 8


def looks_like_secret(value: str) -> bool:
    """True for values long or random enough to be real secrets, False for placeholders such
    as `anything`, `ollama`, `lm-studio` or `sk-1234` that local servers accept as keys."""
    if len(value) >= SECRET_MIN_CHARS:
        return True
    if len(value) < SECRET_MIN_SHORT_CHARS:
        return False
    classes = [
        any(c.islower() for c in value),
        any(c.isupper() for c in value),
        any(c.isdigit() for c in value),
        any(not c.isalnum() for c in value),
    ]
    alphabet = sum(n for n, used in zip((26, 26, 10, 33), classes, strict=True) if used)
    return sum(classes) >= 2 and len(value) * math.log2(alphabet) >= SECRET_MIN_BITS


# Ticket text known to the current thread or task (the worker sets it around a ticket), so logs
# and error reports can mask quotes of it.
_ticket_texts: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "paceline_ticket_texts", default=()
)


@contextlib.contextmanager
def ticket_text(*texts: str) -> Iterator[None]:
    """Within this block, any log line or error event quoting one of `texts` has it masked."""
    token = hold_ticket_text(*texts)
    try:
        yield
    finally:
        release_ticket_text(token)


def hold_ticket_text(*texts: str) -> contextvars.Token[tuple[str, ...]]:
    """`ticket_text` for a span that opens and closes in two hooks (a worker middleware's
    before and after): mask `texts` until `release_ticket_text(token)`."""
    return _ticket_texts.set(_ticket_texts.get() + tuple(t for t in texts if t))


def release_ticket_text(token: contextvars.Token[tuple[str, ...]]) -> None:
    _ticket_texts.reset(token)


def current_ticket_texts() -> tuple[str, ...]:
    return _ticket_texts.get()


def mask_emails(value: str) -> str:
    return EMAIL_RE.sub(EMAIL_MASK, value)


def _phone_or_not(match: re.Match[str]) -> str:
    text = match.group()
    digits = sum(c.isdigit() for c in text)
    if not 7 <= digits <= 15 or ISO_DATE_RE.fullmatch(text):
        return text
    return PHONE_MASK


def mask_phones(value: str) -> str:
    return PHONE_RE.sub(_phone_or_not, value)


def drop_sensitive_keys(value: Any, keys: frozenset[str] = SENSITIVE_KEYS) -> Any:
    """A copy of `value` (nested dicts/lists) without entries whose key is in `keys`."""
    if isinstance(value, Mapping):
        return {
            k: drop_sensitive_keys(v, keys)
            for k, v in value.items()
            if not (isinstance(k, str) and k.lower() in keys)
        }
    if isinstance(value, list | tuple):
        return [drop_sensitive_keys(v, keys) for v in value]
    return value


def strings_in(value: Any) -> Iterable[str]:
    """Every string nested in `value` (dict values and keys' values, list items)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings_in(v)


class TextRedactor:
    """Masks any run of `MIN_QUOTE_CHARS` or more characters copied from known ticket text.

    Implemented with fixed-size shingles: every window of the known texts goes into a set,
    then each string is scanned once; marked windows are merged and replaced.
    """

    def __init__(self, texts: Iterable[str] = (), *, secrets: Iterable[str] = ()) -> None:
        self._shingles: set[str] = set()
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        for text in texts:
            self.add(text)

    def add(self, text: str) -> None:
        text = text[:MAX_TEXT_CHARS]
        if len(text) < MIN_TEXT_CHARS:
            return
        if len(text) < MIN_QUOTE_CHARS:
            self._shingles.add(text)  # a short subject is matched whole
            return
        n = MIN_QUOTE_CHARS
        self._shingles.update(text[i : i + n] for i in range(len(text) - n + 1))

    def __bool__(self) -> bool:
        return bool(self._shingles or self._secrets)

    def redact(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, SECRET_MASK)
        value = mask_emails(value)
        if not self._shingles:
            return value
        return self._mask_quotes(value)

    def _mask_quotes(self, value: str) -> str:
        short = [s for s in self._shingles if len(s) < MIN_QUOTE_CHARS]
        for s in short:
            value = value.replace(s, TEXT_MASK)
        n = MIN_QUOTE_CHARS
        covered = [False] * len(value)
        for i in range(len(value) - n + 1):
            if value[i : i + n] in self._shingles:
                for j in range(i, i + n):
                    covered[j] = True
        if not any(covered):
            return value
        out: list[str] = []
        i = 0
        while i < len(value):
            if covered[i]:
                while i < len(value) and covered[i]:
                    i += 1
                out.append(TEXT_MASK)
            else:
                out.append(value[i])
                i += 1
        return "".join(out)

    def redact_all(self, value: Any) -> Any:
        """`redact` applied to every string nested in `value` (a new structure)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self.redact_all(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_all(v) for v in value]
        return value


def secret_values(settings: Any) -> list[str]:
    """The plain values of every `SecretStr` setting (API key, webhook secrets, ops token)."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
    return found
