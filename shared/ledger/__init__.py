"""The budget ledger: reserve before, draw before each call, settle after, never pass a cap."""

from shared.ledger.ledger import (
    AdmissionRequest,
    Candidate,
    Decision,
    DrawResult,
    Ledger,
    ReservationBudget,
)

__all__ = [
    "AdmissionRequest",
    "Candidate",
    "Decision",
    "DrawResult",
    "Ledger",
    "ReservationBudget",
]
