"""The app's answers, one place for their shapes; none ever carries a body's content."""

from __future__ import annotations

from starlette.responses import JSONResponse

# The vendor retries a 503; ask it to wait a little so a Redis blip is not hammered.
UNAVAILABLE_RETRY_AFTER_S = 5


def error(status: int, message: str, **extra: str) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def not_found() -> JSONResponse:
    return error(404, "unknown or disabled source")


def too_large(max_bytes: int) -> JSONResponse:
    return error(413, f"body larger than {max_bytes} bytes")


def unauthorized(reason: str) -> JSONResponse:
    return error(401, "signature did not verify", reason=reason)


def not_a_ticket(reason: str) -> JSONResponse:
    return error(422, "not a ticket", reason=reason)


def unavailable(what: str) -> JSONResponse:
    response = error(503, f"{what} unavailable, retry later")
    response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_S)
    return response


def accepted(job_id: str, duplicate: bool, handled: str | None = None) -> JSONResponse:
    """`handled` says what became of an event that is not answered: `dropped` (paceline's
    own reply echoed back), `recorded` or `human_owned` (docs/conversations.md)."""
    doc: dict[str, object] = {"job_id": job_id or None, "duplicate": duplicate}
    if handled is not None:
        doc["handled"] = handled
    return JSONResponse(doc, status_code=202)
