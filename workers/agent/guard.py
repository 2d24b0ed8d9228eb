"""The reply check: what must never leave in an answer, checked before it is stored or sent.

A failed check escalates the ticket to a person instead of sending (reason
`reply_check_failed:<why>`). It catches what an injected or confused model may produce:
the system prompt, secrets, someone else's email address, another customer's ids or name.
The text is checked as it reads (shared/confusables.py): compatibility forms folded,
invisible characters dropped, and for addresses, look-alike letters of other scripts mapped,
so an address written with a fullwidth at sign or a Cyrillic `a` is caught like the plain one.
The escalation reason the model writes is posted back too, so `check_reason` checks it.

"Someone else's data" does not need a customer store: an email address or an id-shaped token
(`AC-1042`, `cus_8812`, a run of 6+ digits) must come from this ticket, from this run's own
tool results (`evidence`: its help-centre hits, its connector's answer) or from the tenant's
own profile text; anything else is refused (`email`, `other_customer`). Where a store is
given, its other customers' names and ids are refused too. A tenant's `forbidden_phrases`
are refused (`forbidden_phrase`), and the secrets of every tenant in the tenants file are
secrets here, whichever tenant the ticket belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from shared.confusables import skeleton, visible
from shared.demo_store.customers import CustomerStore
from shared.models import Ticket
from shared.redact import EMAIL_RE, KEY_SHAPES, looks_like_secret, secret_values
from shared.settings import Settings
from shared.tenants import DEFAULT_PROFILE, Tenant
from workers.agent.prompt import SYSTEM_PROMPT

MAX_REPLY_CHARS = 6_000
# A reply copying any WINDOW_CHARS + STEP_CHARS - 1 consecutive characters of the system
# prompt is caught: sampling every STEP_CHARS-th position of the reply keeps the check cheap.
WINDOW_CHARS = 48
STEP_CHARS = 12

# A configured secret is matched as a whole token: not inside a longer run of these.
_TOKEN_CHARS = r"A-Za-z0-9_\-"  # noqa: S105 - a character class
# An id as support systems write them: letters then (after an optional separator) 3+ digits
# (AC-1042, cus_8812, INV2026001), or a bare run of 6+ digits (an order or account number).
# Dates, prices, versions and short numbers do not match.
_ID = re.compile(r"(?<![\w\-])(?:[A-Za-z]{1,12}[\-_#]?\d{3,}[A-Za-z0-9]*|\d{6,})(?![\w\-])")


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
        """`secrets`: more values never to send beside the settings' own (every tenant's
        webhook, connector and vendor secrets). `store`: known customers whose names and ids a
        reply to anyone else must not carry (the demo's; none in production, where customers'
        data arrives only through the ticket's own connectors)."""
        self._windows = _windows(system_prompt)
        self._prompt_windows: dict[str, frozenset[str]] = {system_prompt: self._windows}
        # Placeholder keys of local servers and gateways ("anything", "ollama", "sk-1234") are
        # words a reply may use: only values long or random enough to be secrets are matched.
        # Every SecretStr setting: provider key, webhook secrets, ops token, vendor API tokens.
        values = [*secret_values(settings), *secrets]
        matched = sorted({v for v in values if v and looks_like_secret(v)}, key=len)
        # The placeholders are configuration words, not another customer's id.
        self._placeholders = frozenset(v.lower() for v in values if v and v not in matched)
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

    def check(
        self,
        reply: str | None,
        ticket: Ticket,
        *,
        evidence: Sequence[str] = (),
        profile: Tenant = DEFAULT_PROFILE,
        prompt: str | None = None,
    ) -> str | None:
        """None when the reply may be sent, else a short reason (no reply text in it).
        `evidence`: this run's tool results; `prompt`: the tenant's system prompt."""
        if reply is None or not reply.strip():
            return "empty"
        if len(reply) > MAX_REPLY_CHARS:
            return "too_long"
        return self._leak(reply, ticket, evidence, profile, prompt)

    def check_reason(
        self,
        reason: str,
        ticket: Ticket,
        *,
        evidence: Sequence[str] = (),
        profile: Tenant = DEFAULT_PROFILE,
        prompt: str | None = None,
    ) -> str | None:
        """None when a model-written escalation reason may be recorded and posted back."""
        return self._leak(reason, ticket, evidence, profile, prompt)

    def _leak(
        self,
        text: str,
        ticket: Ticket,
        evidence: Sequence[str],
        profile: Tenant,
        prompt: str | None,
    ) -> str | None:
        if self._echoes_system_prompt(text, prompt):
            return "system_prompt"
        seen = visible(text)
        for form in (text, seen):
            if KEY_SHAPES.search(form) or (
                self._secrets is not None and self._secrets.search(form)
            ):
                return "secret"
        norm = _normalise(text)
        for phrase in profile.forbidden_phrases:
            if _normalise(phrase) in norm:
                return "forbidden_phrase"
        known = _known_text(ticket, evidence, profile)
        own_email = visible(ticket.requester.email or "").lower()
        for email in _emails_in(seen):
            if email.lower() != own_email and email.lower() not in known:
                return "email"
        if self._names_someone_else(seen, ticket):
            return "other_customer"
        for match in _ID.finditer(seen):
            token = match.group(0).lower()
            if token in self._placeholders or token in known:
                continue
            if self._owner.get(token) != (
                ticket.tenant_id,
                ticket.requester.id,
            ):
                return "other_customer"
        return None

    def _echoes_system_prompt(self, reply: str, prompt: str | None = None) -> bool:
        windows = self._windows
        if prompt is not None:
            found = self._prompt_windows.get(prompt)
            if found is None:
                # One entry per distinct tenant prompt (a reload adds one per changed tenant).
                if len(self._prompt_windows) > 1_000:
                    self._prompt_windows.clear()
                found = self._prompt_windows[prompt] = _windows(prompt)
            windows = found
        norm = _normalise(reply)
        last = len(norm) - WINDOW_CHARS
        return any(norm[i : i + WINDOW_CHARS] in windows for i in range(0, last + 1, STEP_CHARS))

    def _names_someone_else(self, reply: str, ticket: Ticket) -> bool:
        if self._people is None:
            return False
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


def _windows(prompt: str) -> frozenset[str]:
    norm = _normalise(prompt)
    return frozenset(norm[i : i + WINDOW_CHARS] for i in range(len(norm) - WINDOW_CHARS + 1))


def _known_text(ticket: Ticket, evidence: Sequence[str], profile: Tenant) -> str:
    """Where an address or id may come from: this ticket, this run's tool results, the
    tenant's own words. Lower-cased and read as it looks, like the reply."""
    parts = [
        ticket.ticket_id,
        ticket.requester.id,
        ticket.requester.email or "",
        ticket.subject,
        ticket.body,
        profile.instructions,
        profile.display_name or "",
        *evidence,
    ]
    return visible("\n".join(parts)).lower()
