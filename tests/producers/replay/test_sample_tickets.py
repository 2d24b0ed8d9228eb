"""The bundled sample follows the simulated model's policy, so `expect` is what the demo gets."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

from shared.data import load_sample, sample_path
from shared.models import Ticket

# The policy's substrings (case-insensitive), copied from the shared contract on purpose: if the
# simulator's list changes, this test is where the sample is re-checked by hand.
ESCALATION_TRIGGERS = (
    "lawyer", "legal action", "chargeback", "fraud", "speak to a human", "talk to a human",
    "manager", "gdpr", "delete my data", "sue you",
)  # fmt: skip
INJECTION_PHRASES = (
    "system prompt", "your instructions", "ignore previous", "ignore all previous",
    "another customer", "other customer", "someone else's", "account of ",
    "i am staff", "as an admin", "i work for",
)  # fmt: skip


def _text(row: dict[str, object]) -> str:
    return f"{row['subject']}\n{row['body']}".lower()


def test_every_line_is_a_ticket_and_the_file_is_big_and_varied() -> None:
    rows = load_sample()
    assert len(rows) >= 220
    tickets = [Ticket.model_validate(r) for r in rows]
    assert {t.tenant_id for t in tickets} == {"acme", "globex", "initech"}
    assert all(re.fullmatch(r"u-([1-9]|[1-5][0-9]|60)", t.requester.id) for t in tickets)
    assert all(t.requester.email for t in tickets)
    dates = [t.created_at for t in tickets if t.created_at]
    assert len(dates) == len(tickets) and max(dates) - min(dates) <= timedelta(days=90)
    sizes = [len((t.subject + t.body).encode()) for t in tickets]
    assert max(sizes) > 4_000 and min(sizes) < 10
    assert any(ord(ch) > 0x3000 for t in tickets for ch in t.body)  # Japanese
    assert sum(1 for t in tickets if "ü" in t.body or "ç" in t.body or "ñ" in t.body) >= 3
    assert len(set(Counter(t.priority for t in tickets))) == 4


def test_expectations_follow_the_policy() -> None:
    rows = [r for r in load_sample() if "duplicate_of" not in r]
    escalated = [r for r in rows if r["expect"] == "escalated"]
    answered = [r for r in rows if r["expect"] == "answered"]
    assert len(escalated) + len(answered) == len(rows)
    assert 0.12 <= len(escalated) / len(rows) <= 0.15
    for row in rows:
        text = _text(row)
        assert "[[sim:" not in text, row["event_id"]
        assert not [p for p in INJECTION_PHRASES if p in text], row["event_id"]
        triggers = [t for t in ESCALATION_TRIGGERS if t in text]
        assert bool(triggers) == (row["expect"] == "escalated"), (row["event_id"], triggers)


def test_duplicates_repeat_an_earlier_event_exactly() -> None:
    rows = load_sample()
    seen: dict[str, dict[str, object]] = {}
    duplicates = 0
    for row in rows:
        if "duplicate_of" in row:
            duplicates += 1
            original = seen[str(row["duplicate_of"])]
            assert row["event_id"] == row["duplicate_of"]
            assert {k: v for k, v in row.items() if k != "duplicate_of"} == original
        else:
            assert row["event_id"] not in seen
            seen[str(row["event_id"])] = row
    assert duplicates >= 3
    assert len({r["ticket_id"] for r in seen.values()}) == len(seen)


def test_the_sample_is_small_enough_to_ship() -> None:
    from pathlib import Path

    assert Path(sample_path()).stat().st_size < 1_000_000
