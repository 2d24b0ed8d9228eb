"""What the simulated model makes of a follow-up: the conversation so far, and what the
customer's new message says about the last answer.

The agent's prompt carries earlier messages between `<thread>` tags, one a line, each tagged
with its speaker (`[customer] …`, `[you, the assistant] …`, `[support agent (a person)] …`;
workers/agent/prompt.py); the new message is the `<ticket>` block as for any ticket. The
simulator keeps its own short word lists (not the system's classifier in
shared/conversation/classify.py), so a test of one is not a test of the other agreeing with
itself:
- "thanks, that worked" (a confirmation) -> a short closing reply, no tools;
- "still broken" / "that didn't help" the first time -> a second search and an apology;
- the same the second time (an earlier customer line in the thread already said so) ->
  escalate to a person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.simulator.ticket import content_text

_THREAD = re.compile(r"<thread>(.*?)</thread>", re.DOTALL | re.IGNORECASE)
_LINE = re.compile(r"^\[([^\]]+)\]\s*(.*)$")
CONFIRMS = (
    "that worked", "it worked", "works now", "working now", "fixed it", "that fixed",
    "solved it", "all good", "thanks, that", "thank you, that", "perfect",
)  # fmt: skip
UNSATISFIED = (
    "still broken", "didn't help", "did not help", "didn't work", "did not work",
    "doesn't work", "does not work", "not working", "still not", "still the same",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Thread:
    """The conversation before the message being answered."""

    lines: tuple[tuple[str, str], ...]  # (speaker, text), oldest first

    @property
    def answered_before(self) -> bool:
        return any(speaker.startswith("you") for speaker, _ in self.lines)

    @property
    def unsatisfied_before(self) -> int:
        return sum(1 for speaker, text in self.lines if speaker == "customer" and unsatisfied(text))

    @property
    def first_question(self) -> str:
        """The customer's first message (what a second search should look for)."""
        return next((text for speaker, text in self.lines if speaker == "customer"), "")


def read_thread(messages: Sequence[Mapping[str, Any]]) -> Thread:
    """The `<thread>` block of the first user message that has one; empty for a new ticket."""
    for message in messages:
        if message.get("role") != "user":
            continue
        found = _THREAD.search(content_text(message.get("content")))
        if found is None:
            continue
        lines = []
        for raw in found.group(1).splitlines():
            match = _LINE.match(raw.strip())
            if match:
                lines.append((match.group(1).strip().lower(), match.group(2)))
        return Thread(tuple(lines))
    return Thread(())


def confirms(text: str) -> bool:
    lowered = _plain(text)
    return "?" not in lowered and any(p in lowered for p in CONFIRMS)


def unsatisfied(text: str) -> bool:
    lowered = _plain(text)
    return any(p in lowered for p in UNSATISFIED)


def _plain(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").split())


_HEADER = re.compile(r"^\s*(from|subject)\s*:.*$", re.IGNORECASE | re.MULTILINE)


def message_text(ticket_text: str) -> str:
    """The customer's words of a ticket block, without its From/Subject header lines (a
    follow-up keeps the ticket's subject, which may well end in a question mark)."""
    return _HEADER.sub("", ticket_text).strip()
