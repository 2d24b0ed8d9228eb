"""The ticketing systems: one module per vendor holding its whole contract with paceline
(signature check, payload mapping to a `Ticket`, the reply request back)."""
