"""Conversations: which events are paceline's own, the lifetime caps, the follow-ups and
whether the agent resolved the ticket (docs/conversations.md)."""
