"""One error tree, split by how an error is handled (not by where it was raised).

- `TransientError`: worth another attempt (retried, bounded, paid from the envelope).
- `PermanentError`: will fail the same way again (dead-lettered on the first attempt).
- `BudgetError`: the money is not there now (deferred, never a retry, never a dead letter).
"""

from __future__ import annotations


class PacelineError(Exception):
    """Raised for every error paceline itself defines."""


class SettingsError(PacelineError):
    """Raised when a setting is missing or invalid; the message is one line naming it."""


class TransientError(PacelineError):
    """Raised when an attempt failed in a way that another attempt may not."""

    reason = "transient"

    def __init__(
        self, message: str, *, retry_after_s: float | None = None, reason: str = ""
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        if reason:
            self.reason = reason


class ProviderUnavailable(TransientError):
    """Raised when the provider answered 5xx, timed out or could not be reached."""

    reason = "provider_unavailable"


class ProviderRateLimited(TransientError):
    """Raised when the provider answered 429 rate_limit_exceeded."""

    reason = "provider_rate_limited"


class PermanentError(PacelineError):
    """Raised when an attempt failed in a way every retry would repeat."""

    reason = "permanent"

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        if reason:
            self.reason = reason


class InvalidTicket(PermanentError):
    """Raised when a message does not hold a valid ticket (a poison message)."""

    reason = "invalid_ticket"


class ProviderRejected(PermanentError):
    """Raised when the provider refused the request for good (4xx, quota, context length)."""

    reason = "provider_rejected"


class BudgetError(PacelineError):
    """Raised when the money to continue is not there now."""


class EnvelopeExhausted(BudgetError):
    """Raised when the next call's worst case does not fit what is left of the envelope."""


class ReservationLost(BudgetError):
    """Raised when a reservation's lease expired before the worker used it."""


class SignatureError(PacelineError):
    """Raised when a webhook's signature, timestamp or secret does not verify."""


class NotATicket(PacelineError):
    """Raised when a webhook body verifies but does not describe a ticket."""
