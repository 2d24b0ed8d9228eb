"""Posting the agent's answer back (the generic callback, or the vendor's note API), once."""
