"""Conversations: which events are paceline's own, the lifetime caps, and the hooks the
resolution tracking fills (docs/conversations.md)."""
