"""One error tree, split by how an error is handled (not by where it was raised).

- `TransientError`: worth another attempt (retried, bounded, paid from the envelope).
- `PermanentError`: will fail the same way again (dead-lettered on the first attempt).
- `BudgetError`: the money is not there now (deferred, never a retry, never a dead letter).
- the rest are refusals of input or configuration, each answered where it is raised (a
  status code, a one-line message), and `AdmissionError`, a failed attempt for dramatiq.
"""

from __future__ import annotations

from dramatiq.middleware import MiddlewareError


class PacelineError(Exception):
    """Raised for every error paceline itself defines."""

    # What the ticket's run had cost when it failed; the agent sets them on the way out, and
    # the worker's dead-letter and park records read them.
    attempts: int = 1
    cost_micros: int = 0


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


class DeliveryInFlight(TransientError):
    """Raised when the same delivery is being enqueued right now and is not confirmed yet."""


class ProviderUnavailable(TransientError):
    """Raised when the provider answered 5xx, timed out or could not be reached."""

    reason = "provider_unavailable"


class ProviderRateLimited(TransientError):
    """Raised when the provider answered 429 rate_limit_exceeded."""

    reason = "provider_rate_limited"


class ProviderMisconfigured(TransientError):
    """Raised when the provider refuses our configuration (key, endpoint, model, deployment):
    every ticket would fail alike until an operator fixes it, so tickets wait, never
    dead-lettered; `paceline check` finds these before any ticket does."""

    reason = "provider_misconfigured"


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


class OutboundRefused(PermanentError):
    """Raised when a request would go to an address paceline does not send to (loopback,
    private, link-local, ...) or to a URL it cannot use; see shared/outbound.py."""

    reason = "outbound_refused"


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


class BodyTooLarge(PacelineError):
    """Raised when a webhook body is (or announces itself as) larger than the limit."""


class MappingError(PacelineError, ValueError):
    """Raised when a column mapping is malformed or names a header the file does not have."""


class InputFileError(PacelineError, ValueError):
    """Raised when an input file cannot be read as the format it is read as (the message
    names the line)."""


class LabelRejected(PacelineError, ValueError):
    """Raised when a metric label value could carry personal data or free text."""


class ConfigError(PacelineError, ValueError):
    """Raised when a simulator fault setting is unknown or out of range (the message names it)."""


class StackError(PacelineError):
    """Raised when a part of the local stack cannot start; the message says what to do."""


class AdmissionError(PacelineError, MiddlewareError):
    """Raised when admission could not complete; the attempt fails instead of running unpaid.

    A `MiddlewareError`, so dramatiq treats it as a failed attempt (bounded retries) rather
    than swallowing it and running the actor anyway.
    """


class HistoryError(PacelineError):
    """Raised when the history database cannot be used as configured."""


class MigrationFailed(HistoryError):
    """Raised when a schema migration failed; it was rolled back, nothing half-applied."""


class EventRejected(PacelineError):
    """Raised when a history stream entry does not parse; the message is the reason."""


class DatabaseUnavailable(HistoryError):
    """Raised when the history database does not answer (a transient state: retried)."""


class KnowledgeError(PacelineError):
    """Raised when a help-centre import, search or command cannot go on; one-line message."""


class ImportOverBudget(BudgetError):
    """Raised when an import's embeddings would pass what is left of the day's ceiling."""

    def __init__(self, message: str, *, estimate_micros: int, left_micros: int) -> None:
        super().__init__(message)
        self.estimate_micros = estimate_micros
        self.left_micros = left_micros
