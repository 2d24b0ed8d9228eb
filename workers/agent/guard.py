"""The reply check: what must never leave in an answer, checked before it is stored or sent.

A failed check escalates the ticket to a person instead of sending (reason
`reply_check_failed:<why>`). It catches what an injected or confused model may produce:
the system prompt, secrets, someone else's email address, another customer's ids or name.
"""

from __future__ import annotations

import re

from shared.models import Ticket
from shared.redact import KEY_SHAPES, looks_like_secret
from shared.settings import WEBHOOK_SOURCES, Settings
from workers.agent.prompt import SYSTEM_PROMPT
from workers.agent.tools.customers import CustomerStore

MAX_REPLY_CHARS = 6_000
# A reply copying any WINDOW_CHARS + STEP_CHARS - 1 consecutive characters of the system
# prompt is caught: sampling every STEP_CHARS-th position of the reply keeps the check cheap.
WINDOW_CHARS = 48
STEP_CHARS = 12

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# A configured secret is matched as a whole token: not inside a longer run of these.
_TOKEN_CHARS = r"A-Za-z0-9_\-"  # noqa: S105 - a character class


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


class ReplyCheck:
    def __init__(
        self, settings: Settings, store: CustomerStore, system_prompt: str = SYSTEM_PROMPT
    ) -> None:
        norm = _normalise(system_prompt)
        self._windows = {norm[i : i + WINDOW_CHARS] for i in range(len(norm) - WINDOW_CHARS + 1)}
        # Placeholder keys of local servers and gateways ("anything", "ollama", "sk-1234") are
        # words a reply may use: only values long or random enough to be secrets are matched.
        secrets = sorted({s for s in _secret_values(settings) if looks_like_secret(s)}, key=len)
        alternatives = "|".join(re.escape(s) for s in reversed(secrets))
        self._secrets = (
            re.compile(rf"(?<![{_TOKEN_CHARS}])(?:{alternatives})(?![{_TOKEN_CHARS}])")
            if secrets
            else None
        )
        self._owner: dict[str, tuple[str, str]] = {}
        for c in store.customers:
            owner = (c.tenant_id, c.requester_id)
            tokens = [c.requester_id, c.name, c.email]
            tokens += [str(o.get("order_id", "")) for o in c.orders]
            tokens += [str(t.get("ticket_id", "")) for t in c.past_tickets]
            for token in tokens:
                if token:
                    self._owner[token.lower()] = owner
        alternation = "|".join(re.escape(t) for t in sorted(self._owner, key=len, reverse=True))
        self._people = re.compile(rf"(?<![\w\-])(?:{alternation})(?![\w\-])", re.IGNORECASE)

    def check(self, reply: str | None, ticket: Ticket) -> str | None:
        """None when the reply may be sent, else a short reason (no reply text in it)."""
        if reply is None or not reply.strip():
            return "empty"
        if len(reply) > MAX_REPLY_CHARS:
            return "too_long"
        if self._echoes_system_prompt(reply):
            return "system_prompt"
        if KEY_SHAPES.search(reply) or (self._secrets is not None and self._secrets.search(reply)):
            return "secret"
        own_email = (ticket.requester.email or "").lower()
        if any(m.group(0).lower() != own_email for m in _EMAIL.finditer(reply)):
            return "email"
        if self._names_someone_else(reply, ticket):
            return "other_customer"
        return None

    def _echoes_system_prompt(self, reply: str) -> bool:
        norm = _normalise(reply)
        last = len(norm) - WINDOW_CHARS
        return any(
            norm[i : i + WINDOW_CHARS] in self._windows for i in range(0, last + 1, STEP_CHARS)
        )

    def _names_someone_else(self, reply: str, ticket: Ticket) -> bool:
        me = (ticket.tenant_id, ticket.requester.id)
        mine = {ticket.requester.id.lower(), (ticket.requester.name or "").lower()}
        for match in self._people.finditer(reply):
            token = match.group(0).lower()
            if token not in mine and self._owner.get(token) != me:
                return True
        return False


def _secret_values(settings: Settings) -> list[str]:
    values = [settings.webhook_secret(source) for source in WEBHOOK_SOURCES]
    out = [v.decode() for v in values if v]
    for secret in (settings.llm_api_key, settings.ops_token, settings.sentry_dsn):
        if secret is not None:
            out.append(secret.get_secret_value())
    return out
