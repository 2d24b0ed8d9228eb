"""How values read in front of a person, the same in the terminal and on the ops page:
ticket-derived text made harmless, dollars at a fixed precision per context, local ISO times,
and every amount in JSON in both units.

Ticket ids, subjects, reasons and tenant names come from whoever sent the ticket. Printed raw,
an escape sequence rewrites the operator's terminal and a bidi override reorders what they
read; `safe_text` shows each such character as an escape (`\\x1b`, `\\u202e`) instead. Rich
markup in such text (`[link=...]`) is never interpreted: the CLI prints it as plain `Text`.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from shared.money import MICROS_PER_USD, fmt_usd

# Decimal places of `$` amounts, by what they are.
BUDGET_PLACES = 4  # caps, spend, estimates, pace: a day's books
TICKET_PLACES = 6  # one ticket's cost: a fraction of a cent
PLAN_PLACES = 2  # projections per day and month
# Characters that change how the rest of a line displays, though none of them is a control
# character: line and paragraph separators.
_LINE_BREAKS = {"\u2028", "\u2029"}
# Kept: the joiner inside emoji sequences is harmless.
_KEEP = {"\u200d"}


def safe_text(value: object) -> str:
    """`value` as text with control characters, bidi overrides and other invisible format
    characters shown as Python-style escapes; None is an empty string."""
    if value is None:
        return ""
    text = str(value)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in _KEEP or (ch.isprintable() and ch not in _LINE_BREAKS):
            out.append(ch)
        elif unicodedata.category(ch) == "Zs":
            out.append(" ")  # an odd space (no-break, thin): still a space
        else:
            code = ord(ch)
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
    return "".join(out)


def usd(micros: int | None, places: int = BUDGET_PLACES) -> str:
    """`$1,234.5678`: micro-dollars at a fixed precision; "—" for no amount."""
    return "—" if micros is None else fmt_usd(micros, places)


def local_iso(at_ms: int | float | None) -> str:
    """An epoch-milliseconds time as local ISO-8601 with its offset, to the second."""
    if at_ms is None or at_ms == 0:
        return "—"
    return datetime.fromtimestamp(at_ms / 1000).astimezone().isoformat(timespec="seconds")


def both_units(doc: Any) -> Any:
    """`doc` with every amount in both units: a number under a key holding `_usd` gains its
    `_micros` sibling and the other way round, at every depth. JSON output goes through it."""
    if isinstance(doc, list):
        return [both_units(item) for item in doc]
    if not isinstance(doc, dict):
        return doc
    out: dict[str, Any] = {}
    for key, value in doc.items():
        out[key] = both_units(value)
    for key, value in doc.items():
        if not isinstance(key, str) or isinstance(value, bool):
            continue
        if not isinstance(value, int | float):
            continue
        if "_micros" in key:
            twin = key.replace("_micros", "_usd", 1)
            out.setdefault(twin, round(value / MICROS_PER_USD, 6))
        elif "_usd" in key:
            twin = key.replace("_usd", "_micros", 1)
            out.setdefault(twin, round(value * MICROS_PER_USD))
    return out
