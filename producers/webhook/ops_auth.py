"""Who may use `/ops`: the ops token itself, or a session traded for it.

A request is let in by `Authorization: Bearer <token>`, or by a session cookie that
`GET /ops?token=…` sets and then redirects away from the token-bearing URL. The cookie is a
session of its own, never the token: a fresh random id and an expiry, MAC'd with the token
(HttpOnly, SameSite=Strict, Max-Age of `SESSION_TTL_S`, Secure over HTTPS or with
`PACELINE_OPS_SECURE_COOKIE`); a new one at every login. The requeue form must also carry a
form token (a MAC of the session id, only readable from the page itself) and, when the
browser sends an Origin, come from this origin: a cross-site page can neither read the form
token nor ride the cookie. Every comparison is of bytes, so no input (non-ASCII included)
can make one raise.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from shared.clock import Clock
from shared.settings import Settings

COOKIE = "paceline_ops"
SESSION_TTL_S = 8 * 3600
# The session of a request that sent the token itself (no cookie, so no CSRF to guard).
BEARER_SESSION = "bearer"


def _mac(token: str, purpose: str) -> str:
    return hmac.new(token.encode(), f"paceline-ops:{purpose}".encode(), hashlib.sha256).hexdigest()


def same(given: str, expected: str) -> bool:
    """Constant-time and total: text from a client may hold any character."""
    return hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


class OpsAuth:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.token = settings.ops_token.get_secret_value() if settings.ops_token else ""
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    def valid_token(self, candidate: str) -> bool:
        return self.enabled and same(candidate, self.token)

    def new_session(self) -> str:
        """A cookie value for a new session: `<random id>.<expiry s>.<MAC of both>`."""
        body = f"{secrets.token_urlsafe(18)}.{int(self._clock.now_s()) + SESSION_TTL_S}"
        return f"{body}.{_mac(self.token, 'session:' + body)}"

    def session_of(self, request: Request) -> str | None:
        """The request's session id (`BEARER_SESSION` for the token itself), None if refused."""
        if not self.enabled:
            return None
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and self.valid_token(auth[7:].strip()):
            return BEARER_SESSION
        sid, _, rest = request.cookies.get(COOKIE, "").partition(".")
        expires, _, mac = rest.partition(".")
        if not (sid and same(mac, _mac(self.token, f"session:{sid}.{expires}"))):
            return None
        live = expires.isascii() and expires.isdigit() and int(expires) > self._clock.now_s()
        return sid if live else None

    def form_token(self, session: str) -> str:
        return _mac(self.token, f"form:{session}")


def refused(auth: OpsAuth) -> Response:
    if not auth.enabled:
        return HTMLResponse("ops page disabled: PACELINE_OPS_TOKEN is not set", status_code=403)
    return HTMLResponse(
        "ops token required", status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host
