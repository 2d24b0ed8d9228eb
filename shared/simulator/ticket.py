"""What the simulated model reads from a request: the ticket text and its test directives.

The ticket is the last `<ticket>…</ticket>` block of the first user message that has one, so
text the agent adds elsewhere (instructions, tool results) never steers the policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_BLOCK = re.compile(r"<ticket>(.*?)</ticket>", re.DOTALL | re.IGNORECASE)
_DIRECTIVE = re.compile(r"\[\[sim:([a-z_]+)(?::(\d+))?\]\]", re.IGNORECASE)
_SUBJECT = re.compile(r"^\s*subject\s*:\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_WORD = re.compile(r"[a-z0-9']+")
_MAX_KEYWORDS = 6
_STOPWORDS = frozenset(
    "the and for you your with this that have has had was were are not but can could would "
    "please hi hello dear thanks thank from about what when where why how who its it's i'm "
    "our out get got any all just still there their them they been being into over some "
    "need want help issue question re fwd".split()
)


@dataclass(frozen=True, slots=True)
class TicketText:
    text: str
    subject: str
    directives: tuple[tuple[str, int | None], ...]

    @property
    def lowered(self) -> str:
        return self.text.lower()

    def directive(self, name: str) -> tuple[str, int | None] | None:
        for directive in self.directives:
            if directive[0] == name:
                return directive
        return None

    def keywords(self) -> str:
        """A search query: the subject's keywords, else the body's, else a generic word."""
        for source in (self.subject, _DIRECTIVE.sub(" ", self.text)):
            words = _keywords(source)
            if words:
                return " ".join(words)
        return "help"


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, Mapping)]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


_EARLIER = re.compile(r"^Earlier in this conversation: (\d+) messages", re.MULTILINE)


def earlier_messages(messages: Sequence[Mapping[str, Any]]) -> int:
    """How many earlier messages of the conversation the agent's prompt carries (its note
    before the `<thread>` block), 0 for a first message."""
    for m in messages:
        if m.get("role") == "user":
            found = _EARLIER.search(content_text(m.get("content")))
            return int(found.group(1)) if found else 0
    return 0


def read_ticket(messages: Sequence[Mapping[str, Any]]) -> TicketText:
    user_texts = [content_text(m.get("content")) for m in messages if m.get("role") == "user"]
    text = ""
    for candidate in user_texts:
        blocks = _BLOCK.findall(candidate)
        if blocks:
            text = blocks[-1]
            break
    else:
        # No ticket block: a generic chat; the first user message stands in for the ticket.
        text = user_texts[0] if user_texts else ""
    return TicketText(text=text.strip(), subject=_subject(text), directives=_directives(text))


def _subject(text: str) -> str:
    match = _SUBJECT.search(text)
    if match:
        return match.group(1).strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _directives(text: str) -> tuple[tuple[str, int | None], ...]:
    found = []
    for name, number in _DIRECTIVE.findall(text):
        found.append((name.lower(), int(number) if number else None))
    return tuple(found)


def _keywords(text: str) -> list[str]:
    words: list[str] = []
    for word in _WORD.findall(_DIRECTIVE.sub(" ", text).lower()):
        word = word.strip("'")
        if len(word) >= 3 and word not in _STOPWORDS and word not in words:
            words.append(word)
        if len(words) == _MAX_KEYWORDS:
            break
    return words
