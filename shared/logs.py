"""Structured JSON logs on the root logger, redacted before they are written.

One line per record: `ts`, `level`, `logger`, `msg`, `component`, and any context passed with
`extra=` (`ticket_id`, `tenant_id`, `reservation_id`, `job_id`, ...). The redacting filter sits
on the handler (logger-level filters do not see records propagated from child loggers): it
masks email addresses, quotes of the ticket in hand (`shared.redact.ticket_text`) and every
configured secret, and drops fields named like ticket text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

from shared.redact import TextRedactor, current_ticket_texts, secret_values
from shared.settings import Settings

# Fields that carry ticket text, and uvicorn's `color_message` (its message again, with
# terminal escape codes that have no place in a JSON line).
DROPPED_FIELDS = frozenset({"body", "subject", "text", "messages", "color_message"})
CONTEXT_FIELDS = ("ticket_id", "tenant_id", "reservation_id", "job_id")
# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_HANDLER_MARK = "_paceline_json"
# HTTP clients that write an INFO line for every request ("HTTP Request: GET <url> ..."): a
# data connector's URL names the requester (its id, or its email in the query), and a line per
# model call is noise the worker would format and redact four times a ticket. Their warnings
# and errors still pass.
QUIET_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2")


class RedactingFilter(logging.Filter):
    """Rewrites each record in place: message formatted and masked, sensitive extras gone."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = TextRedactor(current_ticket_texts(), secrets=self._secrets)
        record.args = _without_messages(record)
        record.msg = redactor.redact(hide_message_reprs(record.getMessage()))
        record.args = None
        for name in list(vars(record)):
            if name in _RECORD_ATTRS:
                continue
            if name.lower() in DROPPED_FIELDS:
                delattr(record, name)
            else:
                setattr(record, name, redactor.redact_all(getattr(record, name)))
        if record.exc_info:
            # The traceback's last line repeats the exception's message: mask it as text.
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redactor.redact(hide_message_reprs(text))
            record.exc_info = None
        return True


# dramatiq logs whole messages ("Message handle_ticket({...'body': ..., 'email': ...}) was
# skipped."): the args are the ticket. A message becomes `<message id>` before formatting, and
# a repr already in the text (an exception quoting one) is cut out the same way.
_MESSAGE_REPR = re.compile(
    r"(?:<MessageProxy )?Message\(queue_name=.*?message_id='([^']*)'.*?message_timestamp=\d+\)>?",
    re.DOTALL,
)
_TICKET_CALL = re.compile(r"\bhandle_ticket(?:_\w+)?\(.*\)", re.DOTALL)


class _MessageRef:
    def __init__(self, message_id: str) -> None:
        self._text = f"<message {message_id}>"

    def __str__(self) -> str:
        return self._text

    __repr__ = __str__


def _is_message(value: object) -> bool:
    return type(value).__name__ in ("Message", "MessageProxy") and hasattr(value, "message_id")


def _safe_arg(value: Any, from_dramatiq: bool) -> Any:
    if _is_message(value):
        return _MessageRef(value.message_id)
    # dramatiq's own lines pass ids, names and counts; a container there is an actor's
    # arguments ("Received args=%r kwargs=%r."), which are the ticket.
    if from_dramatiq and isinstance(value, tuple | list | dict | set):
        return "<hidden>"
    return value


def _without_messages(record: logging.LogRecord) -> Any:
    args = record.args
    # An actor's logger is named after the actor's module, so look at where the call was made.
    path = record.pathname.replace("\\", "/")
    from_dramatiq = record.name.startswith("dramatiq") or "/dramatiq/" in path
    if isinstance(args, tuple):
        return tuple(_safe_arg(a, from_dramatiq) for a in args)
    if isinstance(args, dict):
        return {k: _safe_arg(v, from_dramatiq) for k, v in args.items()}
    return args


def hide_message_reprs(text: str) -> str:
    """Replace any dramatiq message repr (or ticket actor call) quoted in `text`."""
    if "Message(" in text:
        text = _MESSAGE_REPR.sub(lambda m: f"<message {m.group(1)}>", text)
    if "handle_ticket" in text:
        text = _TICKET_CALL.sub("<message>", text)
    return text


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self._component = component

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "component": self._component,
        }
        for name in CONTEXT_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRS and name not in line and not name.startswith("_"):
                line[name] = value
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(
    settings: Settings,
    component: str,
    *,
    stream: TextIO | None = None,
    secrets: list[str] | None = None,
) -> logging.Handler:
    """Install the JSON handler on the root logger (replacing one installed before); every
    secret setting, and `secrets` (the tenants' webhook secrets), is masked."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(RedactingFilter([*secret_values(settings), *(secrets or [])]))
    handler.setFormatter(JsonFormatter(component))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    quiet = max(logging.WARNING, root.level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    return handler
