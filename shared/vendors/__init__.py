"""Webhook sources: one module per ticketing system, each verifying and normalising its payload."""
