"""A scripted customer: plays whole conversations against a running stack, one message at a
time, each sent only once the agent's answer to the previous one is final.

A script is the ticket (tenant, requester, subject) and the customer's messages in order: the
first is the new ticket (`ticket.created`), the rest are follow-ups (`message.created`, author
`customer`) in the generic source's JSON. The customer stops writing once the ticket is handed
to a person (escalated, or `human_owned`): a person answers from there. A script with one
message is a one-shot ticket; leaving the last answer alone lets the resolution window decide.

Tests, `paceline simulate` and the demo use it with their own `post` (a signed webhook POST)
and `status` (the outcome of one event, None until it is final) callables, so this module
needs no HTTP client, Redis or clock of its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HANDED_OVER = frozenset({"escalated", "human_owned", "rejected", "dead_lettered"})


@dataclass(frozen=True)
class Conversation:
    ticket_id: str
    tenant_id: str
    requester: dict[str, Any]
    subject: str
    messages: tuple[str, ...]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Conversation:
        messages = doc.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, str) and m.strip() for m in messages)
        ):
            raise ValueError("a conversation needs `messages`: a list of non-empty texts")
        return cls(
            ticket_id=str(doc["ticket_id"]),
            tenant_id=str(doc.get("tenant_id", "default")),
            requester=dict(doc.get("requester") or {"id": "u-customer"}),
            subject=str(doc.get("subject", "")),
            messages=tuple(messages),
        )

    def event_id(self, index: int) -> str:
        return f"{self.ticket_id}-m{index + 1}"

    def event(self, index: int, callback_url: str | None = None) -> dict[str, Any]:
        """The generic webhook JSON of message `index` (0: the new ticket)."""
        doc: dict[str, Any] = {
            "event_id": self.event_id(index),
            "ticket_id": self.ticket_id,
            "tenant_id": self.tenant_id,
            "requester": self.requester,
            "subject": self.subject,
            "body": self.messages[index],
            "event_type": "ticket.created" if index == 0 else "message.created",
            "author": {"role": "customer", "id": str(self.requester.get("id", ""))},
        }
        if callback_url:
            doc["callback_url"] = callback_url
        return doc


def load_conversations(path: Path) -> list[Conversation]:
    """One conversation a line (JSONL): `{"ticket_id", "tenant_id", "requester", "subject",
    "messages": [...]}`; a bad line raises ValueError naming its line number."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(Conversation.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
    return found


@dataclass
class Played:
    """What happened to one conversation: each sent message's final status, in order."""

    ticket_id: str
    statuses: list[str] = field(default_factory=list)
    stopped: str = "done"  # done | handed_over | timeout

    @property
    def sent(self) -> int:
        return len(self.statuses) + (1 if self.stopped == "timeout" else 0)


class ScriptedCustomer:
    def __init__(
        self,
        post: Callable[[dict[str, Any]], object],
        status: Callable[[Conversation, str], str | None],
        *,
        callback_url: str | None = None,
        timeout_s: float = 60.0,
        poll_s: float = 0.05,
    ) -> None:
        self._post = post
        self._status = status
        self._callback_url = callback_url
        self._timeout_s = timeout_s
        self._poll_s = poll_s

    def play(self, conversation: Conversation) -> Played:
        played = Played(conversation.ticket_id)
        for index in range(len(conversation.messages)):
            self._post(conversation.event(index, self._callback_url))
            final = self._wait(conversation, conversation.event_id(index))
            if final is None:
                played.stopped = "timeout"
                return played
            played.statuses.append(final)
            if final in HANDED_OVER and index + 1 < len(conversation.messages):
                played.stopped = "handed_over"
                return played
        return played

    def play_all(self, conversations: Iterable[Conversation]) -> list[Played]:
        return [self.play(c) for c in conversations]

    def _wait(self, conversation: Conversation, event_id: str) -> str | None:
        deadline = time.monotonic() + self._timeout_s
        while True:
            found = self._status(conversation, event_id)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                return None
            time.sleep(self._poll_s)
