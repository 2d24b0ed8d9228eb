"""The vendors by name: the `{source}` path segment of a webhook, a ticket's `source`."""

from __future__ import annotations

from shared.settings import Settings
from shared.vendors.base import ReplyRequest, Source
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


def reply_request(
    settings: Settings, source: str, ticket_id: str, note: str
) -> ReplyRequest | None:
    """The vendor's request posting `note` back; None for an unknown or unconfigured vendor."""
    vendor = build_sources().get(source)
    return vendor.reply(settings, ticket_id, note) if vendor is not None else None
