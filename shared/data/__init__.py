"""Bundled data: a sample of historical support tickets for the demo (`paceline up --demo`).

`sample_tickets.jsonl` holds generic-source tickets (see the README's ticket JSON) from three
tenants over 90 days, in several languages, from two-character pings to multi-KB threads.
Each line also carries `expect` ("answered" or "escalated": what the simulated model's policy
does with it) and, on a deliberate repeat delivery, `duplicate_of` (the event id it repeats);
`Ticket` ignores both. `demo/conversations.jsonl` holds scripted multi-message conversations
the demo's customer plays after the sample (shared/simulator/customer.py). Read as package
data, so it works from a wheel as well as a checkout.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

SAMPLE_FILE = "sample_tickets.jsonl"


def sample_path() -> str:
    """A filesystem path to the sample (for `paceline replay`, which streams a file)."""
    return str(resources.files(__name__).joinpath(SAMPLE_FILE))


def load_sample() -> list[dict[str, Any]]:
    """Every line of the sample, duplicates included, in file order."""
    text = resources.files(__name__).joinpath(SAMPLE_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def conversations_path() -> str:
    """A filesystem path to the demo's scripted conversations."""
    return str(resources.files(__name__).joinpath("demo", "conversations.jsonl"))
