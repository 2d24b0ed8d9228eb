"""The reply check: what must never leave in an answer, checked before it is stored or sent.

A failed check escalates the ticket to a person instead of sending (reason
`reply_check_failed:<why>`). It catches what an injected or confused model may produce:
the system prompt, secrets, someone else's email address, another customer's ids or name.
The text is checked as it reads (shared/confusables.py): compatibility forms folded,
invisible characters dropped, and for addresses, look-alike letters of other scripts mapped,
so an address written with a fullwidth at sign or a Cyrillic `a` is caught like the plain one.
The escalation reason the model writes is posted back too, so `check_reason` checks it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared.confusables import skeleton, visible
from shared.demo_store.customers import CustomerStore
from shared.models import Ticket
from shared.redact import EMAIL_RE, KEY_SHAPES, looks_like_secret, secret_values
from shared.settings import Settings
from workers.agent.prompt import SYSTEM_PROMPT

MAX_REPLY_CHARS = 6_000
# A reply copying any WINDOW_CHARS + STEP_CHARS - 1 consecutive characters of the system
# prompt is caught: sampling every STEP_CHARS-th position of the reply keeps the check cheap.
WINDOW_CHARS = 48
STEP_CHARS = 12

# A configured secret is matched as a whole token: not inside a longer run of these.
_TOKEN_CHARS = r"A-Za-z0-9_\-"  # noqa: S105 - a character class


def _normalise(text: str) -> str:
    return " ".join(visible(text).lower().split())


class ReplyCheck:
    def __init__(
        self,
        settings: Settings,
        store: CustomerStore | None = None,
        system_prompt: str = SYSTEM_PROMPT,
        *,
        secrets: Iterable[str] = (),
    ) -> None:
        """`secrets`: more values never to send beside the settings' own (the tenants'
        webhook and connector secrets). `store`: known customers whose names and ids a reply
        to anyone else must not carry (the demo's; none in production, where customers'
        data arrives only through the ticket's own connectors)."""
        norm = _normalise(system_prompt)
        self._windows = {norm[i : i + WINDOW_CHARS] for i in range(len(norm) - WINDOW_CHARS + 1)}
        # Placeholder keys of local servers and gateways ("anything", "ollama", "sk-1234") are
        # words a reply may use: only values long or random enough to be secrets are matched.
        # Every SecretStr setting: provider key, webhook secrets, ops token, vendor API tokens.
        values = [*secret_values(settings), *secrets]
        matched = sorted({v for v in values if v and looks_like_secret(v)}, key=len)
        alternatives = "|".join(re.escape(v) for v in reversed(matched))
        self._secrets = (
            re.compile(rf"(?<![{_TOKEN_CHARS}])(?:{alternatives})(?![{_TOKEN_CHARS}])")
            if matched
            else None
        )
        self._owner: dict[str, tuple[str, str]] = {}
        for c in store.customers if store is not None else ():
            owner = (c.tenant_id, c.requester_id)
            tokens = [c.requester_id, c.name, c.email]
            tokens += [str(o.get("order_id", "")) for o in c.orders]
            tokens += [str(t.get("ticket_id", "")) for t in c.past_tickets]
            for token in tokens:
                if token:
                    self._owner[token.lower()] = owner
        alternation = "|".join(re.escape(t) for t in sorted(self._owner, key=len, reverse=True))
        self._people = (
            re.compile(rf"(?<![\w\-])(?:{alternation})(?![\w\-])", re.IGNORECASE)
            if self._owner
            else None
        )

    def check(self, reply: str | None, ticket: Ticket) -> str | None:
        """None when the reply may be sent, else a short reason (no reply text in it)."""
        if reply is None or not reply.strip():
            return "empty"
        if len(reply) > MAX_REPLY_CHARS:
            return "too_long"
        return self._leak(reply, ticket)

    def check_reason(self, reason: str, ticket: Ticket) -> str | None:
        """None when a model-written escalation reason may be recorded and posted back."""
        return self._leak(reason, ticket)

    def _leak(self, text: str, ticket: Ticket) -> str | None:
        if self._echoes_system_prompt(text):
            return "system_prompt"
        seen = visible(text)
        for form in (text, seen):
            if KEY_SHAPES.search(form) or (
                self._secrets is not None and self._secrets.search(form)
            ):
                return "secret"
        own_email = visible(ticket.requester.email or "").lower()
        if any(email.lower() != own_email for email in _emails_in(seen)):
            return "email"
        if self._names_someone_else(seen, ticket):
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
        if self._people is None:
            return False
        mine = {ticket.requester.id.lower(), (ticket.requester.name or "").lower()}
        for match in self._people.finditer(reply):
            token = match.group(0).lower()
            if token not in mine and self._owner.get(token) != me:
                return True
        return False


def _emails_in(text: str) -> Iterable[str]:
    """Every address in `text`, found in its skeleton (look-alikes mapped to ASCII) and
    returned as written, so a look-alike of the requester's own address still counts."""
    for match in EMAIL_RE.finditer(skeleton(text)):
        yield text[match.start() : match.end()]
