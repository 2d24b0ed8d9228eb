"""The budget ledger: reserve before, draw before each call, settle after, never pass a cap."""

from shared.ledger.ledger import (
    NO_TOKENS,
    AdmissionRequest,
    CallTokens,
    Candidate,
    Decision,
    DrawResult,
    Ledger,
)
from shared.ledger.reservation_budget import ReservationBudget

__all__ = [
    "NO_TOKENS",
    "AdmissionRequest",
    "CallTokens",
    "Candidate",
    "Decision",
    "DrawResult",
    "Ledger",
    "ReservationBudget",
]
