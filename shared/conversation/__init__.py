"""Conversations: a ticket's follow-ups and whether the agent resolved it."""
