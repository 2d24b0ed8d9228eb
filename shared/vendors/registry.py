"""The vendors by name: the `{source}` path segment of a webhook, a ticket's `source`."""

from __future__ import annotations

from shared.settings import Settings
from shared.vendors.base import INTERNAL, ReplyOptions, ReplyRequest, Source
from shared.vendors.freshdesk import FreshdeskSource
from shared.vendors.front import FrontSource
from shared.vendors.generic import GenericSource
from shared.vendors.helpscout import HelpScoutSource
from shared.vendors.intercom import IntercomSource
from shared.vendors.jira import JiraSource
from shared.vendors.zendesk import ZendeskSource


def build_sources() -> dict[str, Source]:
    sources: list[Source] = [
        GenericSource(),
        ZendeskSource(),
        IntercomSource(),
        FrontSource(),
        HelpScoutSource(),
        JiraSource(),
        FreshdeskSource(),
    ]
    return {s.name: s for s in sources}


def assigns_on_reply(source: str) -> bool:
    """Whether `source`'s reply request can also hand the ticket to a group or assignee."""
    return bool(getattr(build_sources().get(source), "assigns", False))


def assign_request(
    settings: Settings, source: str, ticket_id: str, options: ReplyOptions
) -> ReplyRequest | None:
    """The vendor's own request handing a ticket to `options`' group or assignee, for the
    vendors that need one beside the reply; None where there is none or it is unconfigured."""
    vendor = build_sources().get(source)
    assign = getattr(vendor, "assign", None)
    return assign(settings, ticket_id, options) if assign is not None else None


def reply_request(
    settings: Settings,
    source: str,
    ticket_id: str,
    note: str,
    options: ReplyOptions = INTERNAL,
) -> ReplyRequest | None:
    """The vendor's request posting `note` back; None for an unknown or unconfigured vendor."""
    vendor = build_sources().get(source)
    return vendor.reply(settings, ticket_id, note, options) if vendor is not None else None
