"""The agent: one model with tools, in a loop bounded by steps, deadline, money and context.

Reads top to bottom: fence the ticket, then per step call the model (caller.py: deadline,
envelope, retries), run the tools it asked for (bound to this ticket), stop on a reply, an
escalation, a repeated call or a bound. A reply is checked (guard.py) before it leaves.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from shared.clock import Clock
from shared.demo_store.customers import CustomerStore
from shared.errors import PacelineError
from shared.models import Ticket
from shared.pricing import PriceTable
from shared.settings import Settings
from shared.tenants import TenantRegistry
from workers.agent.budget import CallBudget
from workers.agent.call_hooks import CallHooks
from workers.agent.caller import ModelCaller
from workers.agent.circuit_hook import CircuitHook
from workers.agent.context_window import context_shares
from workers.agent.guard import ReplyCheck
from workers.agent.llm import AssistantMessage, LLMClient, ToolCall
from workers.agent.profiles import TenantPrompts
from workers.agent.prompt import (
    THREAD_CONTEXT_MAX_BYTES,
    first_messages,
    has_thread,
    truncate,
)
from workers.agent.result import AgentResult, RunState, StopRun, ToolTrace
from workers.agent.tools import ToolBox, ToolOutcome
from workers.agent.tools.knowledge import cited

# Two refused calls in one ticket means the text is steering the model: a person should look.
MAX_DENIED_CALLS = 2
MAX_TRACE_ARG_CHARS = 500


class Agent:
    """Shared by every worker thread: holds only read-only parts; each run keeps its own state."""

    def __init__(
        self,
        *,
        settings: Settings,
        llm: LLMClient,
        prices: PriceTable,
        clock: Clock,
        tools: ToolBox,
        circuit: CircuitHook | None = None,
        rng: random.Random | None = None,
        on_usage_missing: Callable[[str], None] | None = None,
        secrets: Sequence[str] = (),
        known_customers: CustomerStore | None = None,
        tenants: TenantRegistry | None = None,
        hooks: CallHooks | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._llm = llm
        self._tools = tools
        self._tenants = tenants
        self._known = known_customers
        self._secrets = list(secrets)
        self._check = ReplyCheck(settings, known_customers, secrets=self._secrets)
        self._check_version = tenants.version if tenants is not None else 0
        self._check_lock = threading.Lock()
        self._caller = ModelCaller(
            settings=settings,
            llm=llm,
            prices=prices,
            clock=clock,
            circuit=circuit,
            rng=rng or random.Random(),
            on_usage_missing=on_usage_missing,
            hooks=hooks,
        )
        # Planned for the tenant offered the most tools (its connectors' schemas included).
        shares = context_shares(settings, tools.largest_schemas())
        self._ticket_bytes = shares.ticket_bytes
        self._tool_bytes = shares.tool_result_bytes
        # Only the ticket's own message differs between a tenant's first calls: its system
        # prompt, the framing and its tool schemas (its connectors') are counted once per
        # tenant.
        self.prompts = TenantPrompts(tenants, tools.schemas_for)

    def prompt_bound(self, ticket: Ticket) -> int:
        """Upper bound on the first call's prompt tokens: what admission prices a ticket by.
        Equal to `prompt_tokens_upper_bound(first_messages(...), schemas)`, without
        re-counting the parts every ticket of its tenant shares (a test holds the two equal)."""
        _, user = first_messages(ticket, self._ticket_bytes)
        extra = THREAD_CONTEXT_MAX_BYTES if has_thread(ticket) else 0
        fixed = self.prompts.get(ticket.tenant_id).fixed_tokens
        return fixed + len(user["content"].encode("utf-8")) + extra

    def close(self) -> None:
        self._llm.close()
        self._tools.close()

    def reply_check(self) -> ReplyCheck:
        """The reply check, rebuilt when the tenants file was reloaded: a new tenant's
        secrets are refused from then on, and the old ones still are."""
        tenants = self._tenants
        if tenants is not None and tenants.version != self._check_version:
            with self._check_lock:
                if tenants.version != self._check_version:
                    fresh = tenants.current().secret_values()
                    self._secrets = sorted(set(self._secrets) | set(fresh))
                    self._check = ReplyCheck(self._settings, self._known, secrets=self._secrets)
                    self._check_version = tenants.version
        return self._check

    def run(
        self,
        ticket: Ticket,
        budget: CallBudget,
        *,
        model: str | None = None,
        max_output_tokens: int | None = None,
        deadline_s: float | None = None,
        thread: tuple[list[dict[str, Any]], int] | None = None,
    ) -> AgentResult:
        """Answer or escalate one ticket. Provider errors that outlive the retry policy are
        raised (TransientError / PermanentError); every bound ends in an escalation."""
        s = self._settings
        started_s = self._clock.now_s()
        run = RunState(
            run_id=uuid.uuid4().hex[:12],
            model=model or self.prompts.profile(ticket.tenant_id).model or s.model,
            deadline_s=started_s + (deadline_s if deadline_s is not None else s.ticket_deadline_s),
            started_s=started_s,
        )
        wanted = min(max_output_tokens or s.max_output_tokens, s.max_output_tokens)
        try:
            return self._loop(ticket, budget, run, wanted, thread)
        except StopRun as stop:
            return self._escalate(run, stop.reason)
        except PacelineError as exc:
            # The worker's dead-letter and park records read these off the error.
            exc.attempts = run.attempts
            exc.cost_micros = run.cost_micros
            raise

    def _loop(
        self,
        ticket: Ticket,
        budget: CallBudget,
        run: RunState,
        wanted: int,
        thread: tuple[list[dict[str, Any]], int] | None = None,
    ) -> AgentResult:
        bound = self._tools.bind(ticket, budget, result_bytes=self._tool_bytes)
        tenant = self.prompts.get(ticket.tenant_id)
        run.profile, run.system = tenant.profile, tenant.system
        messages = first_messages(ticket, self._ticket_bytes, thread, tenant.system)
        seen: set[tuple[str, str]] = set()
        call_ids: set[str] = set()
        for step in range(1, self._settings.max_steps + 1):
            run.steps = step
            completion = self._caller.call(run, budget, messages, bound.schemas, wanted)
            if completion.finish_reason == "content_filter":
                # The provider withheld (part of) the answer under its content policy.
                return self._escalate(run, "content_filter:output")
            message = _unique_call_ids(completion.message, call_ids, run.run_id, step)
            if not message.tool_calls:
                truncated = completion.finish_reason == "length"
                return self._answer(run, ticket, message.content, truncated=truncated)
            messages.append(message.to_dict())
            for call in message.tool_calls:
                key = (call.name, _canonical(call.arguments))
                if key in seen:
                    return self._escalate(run, "loop_detected")
                seen.add(key)
                outcome = bound.execute(call.name, call.arguments)
                self._record(run, call, outcome)
                if outcome.reply is not None:
                    return self._answer(run, ticket, outcome.reply, truncated=False)
                if outcome.escalation is not None:
                    # The model wrote this reason and it is posted back: check it like a reply.
                    why = self.reply_check().check_reason(
                        outcome.escalation,
                        ticket,
                        evidence=run.evidence(),
                        profile=run.profile,
                        prompt=run.system,
                    )
                    said = outcome.escalation if why is None else f"withheld:{why}"
                    return self._escalate(run, f"requested_by_model:{said}")
                content = truncate(outcome.content, self._tool_bytes)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
            if run.denied_calls >= MAX_DENIED_CALLS:
                return self._escalate(run, "tool_denied")
        return self._escalate(run, "step_limit")

    def _record(self, run: RunState, call: ToolCall, outcome: ToolOutcome) -> None:
        run.tools_used.append(
            call.name if outcome.status != "denied" else f"denied:{call.name}"[:80]
        )
        if outcome.status == "denied":
            run.denied_calls += 1
        run.summaries.append(outcome.summary)
        run.found.extend(outcome.found)
        run.trace.append(
            ToolTrace(
                name=call.name[:80],
                arguments=call.arguments[:MAX_TRACE_ARG_CHARS],
                status=outcome.status,
                content=outcome.content,
            )
        )

    def _answer(
        self, run: RunState, ticket: Ticket, reply: str | None, *, truncated: bool
    ) -> AgentResult:
        why = (
            "truncated"
            if truncated
            else self.reply_check().check(
                reply, ticket, evidence=run.evidence(), profile=run.profile, prompt=run.system
            )
        )
        if why is not None:
            # The reply is dropped, not stored: it may hold exactly what the check caught.
            return self._escalate(run, f"reply_check_failed:{why}")
        articles = cited(reply or "", run.found)
        return run.result(
            "answered",
            self._clock.now_s(),
            reply=reply,
            articles=articles,
            grounded=bool(articles) or run.data_returned(),
        )

    def _escalate(self, run: RunState, reason: str) -> AgentResult:
        return run.result("escalated", self._clock.now_s(), reason=reason)


def _unique_call_ids(
    message: AssistantMessage, used: set[str], run_id: str, step: int
) -> AssistantMessage:
    """The message with every tool-call id unique within the run: some servers send none, or
    the same one every turn, and a tool result must answer exactly one call."""
    calls = []
    for n, call in enumerate(message.tool_calls):
        if not call.id or call.id in used:
            call = replace(call, id=f"call_pl{run_id}s{step}n{n}")
        used.add(call.id)
        calls.append(call)
    return replace(message, tool_calls=tuple(calls)) if calls else message


def _canonical(arguments: str) -> str:
    try:
        parsed: Any = json.loads(arguments)
    except ValueError:
        return arguments.strip()
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"))
