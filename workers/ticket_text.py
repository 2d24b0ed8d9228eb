"""While a worker thread handles a ticket, whatever is logged quotes none of its text.

The ticket's subject, body and requester are held (`shared.redact.hold_ticket_text`) from the
first middleware hook to the last, so the redacting log handler and the Sentry scrubber mask
any quote of them: a library's debug line that dumps a request, or an exception whose message
repeats its input, including dramatiq's own "failed to process" line and its traceback.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from shared.redact import hold_ticket_text, release_ticket_text


class TicketTextMiddleware(Middleware):
    """First in the list: its before hook runs first and its after hooks last."""

    def __init__(self) -> None:
        self._local = threading.local()

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._release()
        args = message.args
        doc = args[0] if isinstance(args, list | tuple) and args else None
        if not isinstance(doc, dict):
            return
        requester = doc.get("requester")
        people = requester if isinstance(requester, dict) else {}
        texts = [doc.get("subject"), doc.get("body"), people.get("name"), people.get("email")]
        self._local.token = hold_ticket_text(*(t for t in texts if isinstance(t, str)))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        self._release()

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._release()

    def _release(self) -> None:
        token: contextvars.Token[tuple[str, ...]] | None = getattr(self._local, "token", None)
        self._local.token = None
        if token is not None:
            release_ticket_text(token)
