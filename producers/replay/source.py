"""Streaming readers for replay files: one record at a time, with the byte offset after it.

Neither reader holds more than one record in memory, so a 1 GB export replays in constant
memory. The offset after each record is what the checkpoint stores; a resume seeks there.
CSV records may span lines (quoted newlines in a body), so the CSV reader counts the bytes of
the lines the csv module actually pulled, which are exactly the lines of the records so far.
Error texts never include ticket content (it may hold personal data), only what was wrong.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import ValidationError

from producers.replay.columns import ColumnMapping
from shared.errors import InputFileError, MappingError
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


JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
CSV_SUFFIXES = {".csv", ".tsv"}


def detect_format(path: Path) -> Format:
    """By suffix when it says; otherwise by the first line (a `.txt` export is common): a
    JSON object starts with `{`, anything else with a comma is read as CSV."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    with path.open("rb") as f:
        for raw in f:
            first = raw.lstrip(b"\xef\xbb\xbf").strip()
            if first:
                return "jsonl" if first.startswith(b"{") or b"," not in first else "csv"
    return "jsonl"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "line"
    return f"{where}: {err['msg']}"[:160]


def _jsonl_ticket(raw: bytes, default_tenant: str) -> Ticket:
    """The fast path parses the line straight into a ticket; a line without a tenant gets
    the default (as `paceline enqueue` does) on a second, slower parse."""
    try:
        return Ticket.model_validate_json(raw)
    except ValidationError as exc:
        if not any(e["loc"] == ("tenant_id",) and e["type"] == "missing" for e in exc.errors()):
            raise
    doc = json.loads(raw)
    doc["tenant_id"] = default_tenant
    return Ticket.model_validate(doc)


def iter_jsonl(
    path: Path, start_offset: int = 0, start_line: int = 0, default_tenant: str = "default"
) -> Iterator[Record]:
    with path.open("rb") as f:
        f.seek(start_offset)
        offset, line_no = start_offset, start_line
        for raw in f:
            offset += len(raw)
            line_no += 1
            if not raw.strip():
                continue
            try:
                ticket = _jsonl_ticket(raw, default_tenant)
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
        # Strict: a stray quote is that row's error, and a quote never closed is the file's
        # (read loosely, it would swallow every line after it into one field).
        reader = csv.reader(lines, strict=True)
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
                if "unexpected end of data" in str(exc):
                    raise InputFileError(
                        f"line {first_line}: a quote opened here is never closed (the rest "
                        "of the file would be one field); fix the file and run again"
                    ) from None
                yield Record(first_line, lines.offset, None, f"csv: {exc}"[:160])
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
        return iter_jsonl(path, start_offset, start_line, default_tenant)
    if mapping is None:
        raise MappingError("a CSV file needs --preset or --columns")
    return iter_csv(path, mapping, default_tenant, start_offset, start_line)
