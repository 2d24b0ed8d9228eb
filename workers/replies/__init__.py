"""Posting the agent's answer back: the generic callback and each vendor's note API."""
