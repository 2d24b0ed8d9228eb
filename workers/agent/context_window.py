"""How the context window is shared out, in bytes (a byte never encodes to more than one
token, so byte shares are a safe bound on token shares).

What is fixed (system prompt, tool schemas, framing, the answer's max_tokens) comes off the
top; a third of the rest goes to the ticket text, two thirds to tool results spread over
every step the run may take. The caller still checks each call's bound before sending, so a
window too small for this split ends in a `context_exhausted` escalation, not a 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.estimate import prompt_tokens_upper_bound
from shared.settings import Settings
from workers.agent.prompt import SYSTEM_PROMPT

MAX_TOOL_RESULT_BYTES = 8_000
MIN_TOOL_RESULT_BYTES = 256
MIN_TICKET_BYTES = 512
# The assistant's own tool-call message per step (ids, names, arguments), generously.
CALL_MESSAGE_BYTES = 300


@dataclass(frozen=True)
class ContextShares:
    ticket_bytes: int
    tool_result_bytes: int


def context_shares(settings: Settings, schemas: Sequence[dict[str, Any]]) -> ContextShares:
    fixed = prompt_tokens_upper_bound([{"content": SYSTEM_PROMPT}, {"content": ""}], schemas)
    free = settings.context_window_tokens - fixed - settings.max_output_tokens
    ticket = max(free // 3, MIN_TICKET_BYTES)
    per_step = (free - free // 3) // settings.max_steps - CALL_MESSAGE_BYTES
    tool = min(max(per_step, MIN_TOOL_RESULT_BYTES), MAX_TOOL_RESULT_BYTES)
    return ContextShares(ticket_bytes=ticket, tool_result_bytes=tool)
