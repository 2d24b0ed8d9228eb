"""The sources the webhook app serves, by the `{source}` path segment."""

from __future__ import annotations

from shared.vendors.base import Source
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
