"""Streaming readers for replay files: one record at a time, with the byte offset after it.

Neither reader holds more than one record in memory, so a 1 GB export replays in constant
memory. The offset after each record is what the checkpoint stores; a resume seeks there.
CSV records may span lines (quoted newlines in a body), so the CSV reader counts the bytes of
the lines the csv module actually pulled, which are exactly the lines of the records so far.
Error texts never include ticket content (it may hold personal data), only what was wrong.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import ValidationError

from producers.replay.columns import ColumnMapping
from shared.errors import MappingError
from shared.models import Ticket

Format = Literal["jsonl", "csv"]
# The body may be up to 200k characters; the csv module's default field limit is 128 KiB.
CSV_FIELD_LIMIT = 1 << 20


@dataclass(frozen=True)
class Record:
    line_no: int  # first physical line of the record, 1-based
    end_offset: int  # byte offset just after the record
    ticket: Ticket | None
    error: str | None = None


def detect_format(path: Path) -> Format:
    return "csv" if path.suffix.lower() in {".csv", ".tsv"} else "jsonl"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "line"
    return f"{where}: {err['type']}"


def iter_jsonl(path: Path, start_offset: int = 0, start_line: int = 0) -> Iterator[Record]:
    with path.open("rb") as f:
        f.seek(start_offset)
        offset, line_no = start_offset, start_line
        for raw in f:
            offset += len(raw)
            line_no += 1
            if not raw.strip():
                continue
            try:
                ticket = Ticket.model_validate_json(raw)
            except ValidationError as exc:
                yield Record(line_no, offset, None, _first_error(exc))
                continue
            yield Record(line_no, offset, ticket)


class _CountingLines:
    """Decoded lines of a binary file, counting the bytes and lines handed out so far."""

    def __init__(self, f: BinaryIO, offset: int, line_no: int) -> None:
        self.f = f
        self.offset = offset
        self.line_no = line_no

    def __iter__(self) -> _CountingLines:
        return self

    def __next__(self) -> str:
        raw = self.f.readline()
        if not raw:
            raise StopIteration
        self.offset += len(raw)
        self.line_no += 1
        return raw.decode("utf-8", errors="replace")

    def seek(self, offset: int, line_no: int) -> None:
        self.f.seek(offset)
        self.offset, self.line_no = offset, line_no


def iter_csv(
    path: Path,
    mapping: ColumnMapping,
    default_tenant: str,
    start_offset: int = 0,
    start_line: int = 0,
) -> Iterator[Record]:
    """Records of a CSV export; the header is always read first, then a resume seeks."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    with path.open("rb") as f:
        lines = _CountingLines(f, 0, 0)
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            return
        bound = mapping.bind(header)
        if start_offset > lines.offset:
            lines.seek(start_offset, start_line)
        while True:
            first_line = lines.line_no + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(first_line, lines.offset, None, f"csv: {type(exc).__name__}")
                continue
            if not any(cell.strip() for cell in row):
                continue
            try:
                ticket = Ticket.model_validate(bound.ticket_dict(row, default_tenant))
            except ValidationError as exc:
                yield Record(first_line, lines.offset, None, _first_error(exc))
                continue
            yield Record(first_line, lines.offset, ticket)


def open_records(
    path: Path,
    fmt: Format,
    *,
    mapping: ColumnMapping | None,
    default_tenant: str,
    start_offset: int = 0,
    start_line: int = 0,
) -> Iterator[Record]:
    if fmt == "jsonl":
        return iter_jsonl(path, start_offset, start_line)
    if mapping is None:
        raise MappingError("a CSV file needs --preset or --columns")
    return iter_csv(path, mapping, default_tenant, start_offset, start_line)
