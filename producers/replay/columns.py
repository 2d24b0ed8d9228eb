"""How a CSV export's columns become a generic ticket: a column mapping, and presets per vendor.

A mapping names, for each ticket field, the CSV header that holds it:
`--columns ticket_id=Id,subject=Subject,body=Description,created_at=Created at`. Fields:
`event_id ticket_id tenant_id requester_id requester_email requester_name subject body priority
tags created_at`. Only `ticket_id` is required; when absent, `event_id` is
`csv:<ticket_id>`, `requester_id` is the email (or "unknown"), `tenant_id` the default tenant
(`PACELINE_WEBHOOK_DEFAULT_TENANT`). A header may appear several times (Jira repeats `Labels`):
every copy is read, which is how multi-column tags work. Values are trimmed; tags are split on
commas and whitespace; priorities map from each vendor's words (Jira's Highest..Lowest,
Freshdesk's Low..Urgent, ...) to low/normal/high/urgent, unknown words to normal; dates are
ISO-8601, `YYYY-MM-DD HH:MM[:SS]` (read as UTC), or Jira's `25/Nov/26 10:05 AM`.

A vendor preset also gives each ticket the identity that vendor's webhook gives it: the
source (`zendesk`), the vendor's id prefix on the ticket and requester ids (`zd-1000`), so a
replayed ticket and the same ticket arriving live meet in one outcome. Exports carry no
account, so the tenant is the one `--tenant` names (default `PACELINE_WEBHOOK_DEFAULT_TENANT`,
what a webhook without an account gets).

Presets (`--preset NAME`; `--columns` entries override single fields of a preset). The headers
are those of each vendor's standard CSV export; the ticket body is not in every vendor's
default CSV, so the column named here is the one to add to the export view:
- zendesk: Id, Subject, Description, Requester id, Requester email, Requester, Priority, Tags
  (space separated), Created at. (Zendesk Support "Export as CSV" / Explore ticket report.)
- intercom: Conversation ID, Conversation subject (title), First message (body), User ID,
  User email, User name, Tags, Created at (Intercom conversations export).
- front: Conversation ID, Subject, Message body, Contact handle (email), Contact name, Tags,
  Created at (Front analytics "conversations" export).
- helpscout: Conversation ID, Subject, Body, Customer ID, Customer email, Customer name, Tags,
  Created At (Help Scout reports export).
- jira: Issue key, Summary, Description, Reporter Id, Reporter, Priority, Labels (repeated
  column), Created (Jira "Export CSV (all fields)").
- freshdesk: Ticket ID, Subject, Description, Requester ID, Requester email, Full name,
  Priority, Tags, Created time (Freshdesk tickets export).
- generic: the field names themselves as headers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.errors import MappingError
from shared.vendors import freshdesk, front, helpscout, intercom, jira, zendesk
from shared.vendors.payload import short_digest

FIELDS = (
    "event_id", "ticket_id", "tenant_id", "requester_id", "requester_email", "requester_name",
    "subject", "body", "priority", "tags", "created_at",
)  # fmt: skip

PRESETS: dict[str, dict[str, str]] = {
    "zendesk": {
        "ticket_id": "Id", "subject": "Subject", "body": "Description",
        "requester_id": "Requester id", "requester_email": "Requester email",
        "requester_name": "Requester", "priority": "Priority", "tags": "Tags",
        "created_at": "Created at",
    },
    "intercom": {
        "ticket_id": "Conversation ID", "subject": "Conversation subject", "body": "First message",
        "requester_id": "User ID", "requester_email": "User email", "requester_name": "User name",
        "tags": "Tags", "created_at": "Created at",
    },
    "front": {
        "ticket_id": "Conversation ID", "subject": "Subject", "body": "Message body",
        "requester_email": "Contact handle", "requester_name": "Contact name", "tags": "Tags",
        "created_at": "Created at",
    },
    "helpscout": {
        "ticket_id": "Conversation ID", "subject": "Subject", "body": "Body",
        "requester_id": "Customer ID", "requester_email": "Customer email",
        "requester_name": "Customer name", "tags": "Tags", "created_at": "Created At",
    },
    "jira": {
        "ticket_id": "Issue key", "subject": "Summary", "body": "Description",
        "requester_id": "Reporter Id", "requester_name": "Reporter", "priority": "Priority",
        "tags": "Labels", "created_at": "Created",
    },
    "freshdesk": {
        "ticket_id": "Ticket ID", "subject": "Subject", "body": "Description",
        "requester_id": "Requester ID", "requester_email": "Requester email",
        "requester_name": "Full name", "priority": "Priority", "tags": "Tags",
        "created_at": "Created time",
    },
    "generic": {name: name for name in FIELDS},
}  # fmt: skip

PRIORITY_WORDS = {
    "lowest": "low", "low": "low", "1": "low",
    "medium": "normal", "normal": "normal", "2": "normal", "": "normal",
    "high": "high", "3": "high",
    "highest": "urgent", "urgent": "urgent", "critical": "urgent", "blocker": "urgent",
    "4": "urgent",
}  # fmt: skip

_JIRA_DATE = "%d/%b/%y %I:%M %p"
_SPACE_DATE = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Vendor:
    """How a vendor's webhook names what its export holds: its source and id prefix."""

    source: str
    prefix: str
    # Front names a requester by a digest of their address, the others by their id.
    requester_by_email: bool = False

    def ticket_id(self, raw: str) -> str:
        return raw if not raw or raw.startswith(f"{self.prefix}-") else f"{self.prefix}-{raw}"

    def requester_id(self, raw: str, email: str | None) -> str:
        if self.requester_by_email:
            return f"{self.prefix}-{short_digest(email)}" if email else f"{self.prefix}-unknown"
        return self.ticket_id(raw) if raw else f"{self.prefix}-unknown"


VENDORS = {
    "zendesk": Vendor("zendesk", zendesk.PREFIX),
    "intercom": Vendor("intercom", intercom.PREFIX),
    "front": Vendor("front", front.PREFIX, requester_by_email=True),
    "helpscout": Vendor("helpscout", helpscout.PREFIX),
    "jira": Vendor("jira", jira.PREFIX),
    "freshdesk": Vendor("freshdesk", freshdesk.PREFIX),
}


@dataclass(frozen=True)
class ColumnMapping:
    field_to_header: dict[str, str]
    vendor: Vendor | None = None

    @classmethod
    def build(cls, preset: str | None, columns: str | None) -> ColumnMapping:
        if preset is not None and preset not in PRESETS:
            raise MappingError(f"unknown preset {preset!r} (known: {', '.join(sorted(PRESETS))})")
        mapping = dict(PRESETS[preset or "generic"])
        for item in (columns or "").split(","):
            if not item.strip():
                continue
            field, sep, header = item.partition("=")
            field = field.strip()
            if not sep or field not in FIELDS or not header.strip():
                raise MappingError(f"bad column mapping {item.strip()!r}: use field=Header")
            mapping[field] = header.strip()
        return cls(mapping, VENDORS.get(preset or ""))

    def bind(self, header: Sequence[str]) -> BoundMapping:
        """Resolve header names to column indexes; the ticket id column must exist."""
        names = [h.strip().lstrip("\ufeff") for h in header]
        indexes = {
            field: [i for i, name in enumerate(names) if name == wanted]
            for field, wanted in self.field_to_header.items()
        }
        if not indexes.get("ticket_id"):
            wanted = self.field_to_header.get("ticket_id", "ticket_id")
            raise MappingError(f"the file has no {wanted!r} column for ticket_id")
        return BoundMapping({f: ix for f, ix in indexes.items() if ix}, self.vendor)


@dataclass(frozen=True)
class BoundMapping:
    indexes: dict[str, list[int]]
    vendor: Vendor | None = None

    def _get(self, row: Sequence[str], field: str) -> str:
        values = [row[i].strip() for i in self.indexes.get(field, []) if i < len(row)]
        return " ".join(v for v in values if v)

    def ticket_dict(self, row: Sequence[str], default_tenant: str) -> dict[str, Any]:
        """A generic ticket dict for `Ticket.model_validate` (which does the real checking)."""
        ticket_id = self._get(row, "ticket_id")
        email = self._get(row, "requester_email") or None
        requester_id = self._get(row, "requester_id") or email or "unknown"
        vendor = self.vendor
        if vendor is not None:
            ticket_id = vendor.ticket_id(ticket_id)
            requester_id = vendor.requester_id(self._get(row, "requester_id"), email)
        doc: dict[str, Any] = {
            "event_id": self._get(row, "event_id") or f"csv:{ticket_id}",
            "ticket_id": ticket_id,
            "tenant_id": self._get(row, "tenant_id") or default_tenant,
            "requester": {
                "id": requester_id,
                "email": email,
                "name": self._get(row, "requester_name") or None,
            },
            "subject": self._get(row, "subject"),
            "body": self._get(row, "body"),
            "priority": PRIORITY_WORDS.get(self._get(row, "priority").lower(), "normal"),
            "tags": [t for t in re.split(r"[,\s]+", self._get(row, "tags")) if t],
        }
        if vendor is not None:
            doc["source"] = vendor.source
        raw_created = self._get(row, "created_at")
        created = parse_date(raw_created)
        if raw_created:
            # An unreadable date goes through as-is so validation reports the line as invalid.
            doc["created_at"] = created.astimezone(UTC).isoformat() if created else raw_created
        return doc


def parse_date(raw: str) -> datetime | None:
    """A timezone-aware datetime from the formats vendors export; naive values are UTC."""
    raw = raw.strip()
    if not raw:
        return None
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        for fmt in (*_SPACE_DATE, _JIRA_DATE):
            try:
                parsed = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
