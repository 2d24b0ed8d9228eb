"""What every command prints, one way: tables with headers (also through a pipe), one layout
for every `show`, ticket-derived text escaped and never read as markup, money and times as
shared/display.py formats them, and JSON as one document with every amount in both units.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from shared.display import TICKET_PLACES, both_units, local_iso, safe_text, usd

# Through a pipe rich would wrap a table to 80 columns and cut its headers; a wide console
# keeps every header and cell whole (a table never grows wider than its content).
PIPE_WIDTH = 400


def console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(
        file=stream,
        stderr=stderr,
        highlight=False,
        markup=False,
        emoji=False,
        width=None if tty else PIPE_WIDTH,
        soft_wrap=not tty,
    )


def cell(value: Any) -> Text:
    """A table cell from data: escaped, and plain text whatever brackets it holds."""
    if value is None or value == "":
        return Text("—")
    if isinstance(value, Text):
        return value
    if isinstance(value, list | tuple):
        return Text(", ".join(safe_text(v) for v in value) or "—")
    return Text(safe_text(value))


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    right: Sequence[str] = (),
) -> Table:
    """A table whose headers always print; `right` names the columns of numbers."""
    out = Table(title=Text(safe_text(title)) if title else None, show_header=True)
    for name in headers:
        out.add_column(name, justify="right" if name in right else "left", overflow="fold")
    for row in rows:
        out.add_row(*(cell(v) for v in row))
    return out


def print_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    right: Sequence[str] = (),
) -> None:
    console().print(table(headers, rows, title=title, right=right))


def show_value(key: str, value: Any) -> Any:
    """A field of a `show` as a person reads it: times local ISO, micro-dollars as `$`."""
    if value is None or value == "" or value == []:
        return None
    if key.endswith("_at_ms") and isinstance(value, int | float):
        return local_iso(value)
    if key.endswith("_micros") and isinstance(value, int):
        return usd(value, TICKET_PLACES)
    if isinstance(value, dict | list) and any(isinstance(v, dict) for v in _values(value)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def _values(value: dict[str, Any] | list[Any]) -> list[Any]:
    return list(value.values()) if isinstance(value, dict) else list(value)


def show(doc: dict[str, Any], *, title: str, first: Sequence[str] = ()) -> None:
    """One layout for every `show`: a two-column table, `first` keys at the top, the rest in
    name order; `_usd` twins of `_micros` fields and empty fields are left out."""
    keys = [k for k in first if k in doc]
    rest = sorted(k for k in doc if k not in keys)
    rows = []
    for key in keys + rest:
        if key.endswith("_usd") and key.replace("_usd", "_micros") in doc:
            continue
        value = show_value(key, doc[key])
        if value is None:
            continue
        label = key.removesuffix("_ms") if key.endswith("_at_ms") else key
        label = label.removesuffix("_micros") if key.endswith("_micros") else label
        rows.append((label, value))
    print_table(("field", "value"), rows, title=title)


def print_json(doc: Any) -> None:
    """One JSON document on stdout, every amount in both `_usd` and `_micros`."""
    sys.stdout.write(json.dumps(both_units(doc), sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def line(text: str, *, stderr: bool = False) -> None:
    """One human line; its data parts must already be `safe_text`."""
    console(stderr=stderr).print(Text(text))
