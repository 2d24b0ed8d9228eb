"""The sources the webhook app serves, by the `{source}` path segment."""

from __future__ import annotations

from producers.sources.base import Source
from producers.sources.freshdesk import FreshdeskSource
from producers.sources.front import FrontSource
from producers.sources.generic import GenericSource
from producers.sources.helpscout import HelpScoutSource
from producers.sources.intercom import IntercomSource
from producers.sources.jira import JiraSource
from producers.sources.zendesk import ZendeskSource


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
