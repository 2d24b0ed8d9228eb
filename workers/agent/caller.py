"""One model call with its bounded retries: fit, draw, call, settle, and count every attempt.

Order per attempt matters: the deadline first (no money spent on a call that cannot finish),
then the envelope (max_tokens shrunk to what is left), then the circuit, then the draw. The
draw comes before the HTTP request so that spend + holds never pass the envelope.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shared.clock import Clock
from shared.errors import (
    PermanentError,
    ProviderMisconfigured,
    ProviderUnavailable,
    TransientError,
)
from shared.estimate import prompt_tokens_upper_bound
from shared.ledger import CallTokens
from shared.pricing import TOKENS_PER_PRICE_UNIT, PriceTable, Usage
from shared.settings import Settings
from workers.agent.backoff import backoff_s
from workers.agent.budget import CallBudget
from workers.agent.call_hooks import CallHooks, SeparateWrites
from workers.agent.circuit_hook import CircuitHook
from workers.agent.llm import Completion, LLMClient
from workers.agent.result import RunState, StopRun

# Below this many output tokens an answer is not worth paying for: escalate instead.
MIN_OUTPUT_TOKENS = 64
# The reason prefix of a provider's content-policy refusal (Azure's `content_filter`).
CONTENT_FILTER = "content_filter"


def fit_max_tokens(
    prices: PriceTable, model: str, prompt_tokens: int, wanted: int, remaining_micros: int
) -> int:
    """The most output tokens (<= wanted) whose worst case still fits `remaining_micros`."""
    if prices.worst_case_micros(model, prompt_tokens, wanted) <= remaining_micros:
        return wanted
    price = prices.price(model)
    room = remaining_micros * TOKENS_PER_PRICE_UNIT - prompt_tokens * price.input
    if room < 0:
        return 0
    if price.output == 0:
        return wanted
    return min(wanted, room // price.output)


class ModelCaller:
    def __init__(
        self,
        *,
        settings: Settings,
        llm: LLMClient,
        prices: PriceTable,
        clock: Clock,
        circuit: CircuitHook | None,
        rng: random.Random,
        on_usage_missing: Callable[[str], None] | None = None,
        hooks: CallHooks | None = None,
    ) -> None:
        self._settings = settings
        self._llm = llm
        self._prices = prices
        self._clock = clock
        self._circuit = circuit
        self._rng = rng
        self._on_usage_missing = on_usage_missing
        self._hooks = hooks or SeparateWrites(circuit)

    def call(
        self,
        run: RunState,
        budget: CallBudget,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        wanted_tokens: int,
    ) -> Completion:
        s = self._settings
        prompt_ub = prompt_tokens_upper_bound(messages, tools)
        floor = min(MIN_OUTPUT_TOKENS, wanted_tokens)
        context_room = s.context_window_tokens - prompt_ub
        if context_room < floor:
            raise StopRun("context_exhausted")
        for attempt in range(s.max_retries + 1):
            left_s = run.deadline_s - self._clock.now_s()
            if left_s <= 0:
                raise StopRun("deadline")
            max_tokens = fit_max_tokens(
                self._prices,
                run.model,
                prompt_ub,
                min(wanted_tokens, context_room),
                budget.remaining_micros(),
            )
            if max_tokens < floor:
                raise StopRun("envelope_exhausted")
            worst = self._prices.worst_case_micros(run.model, prompt_ub, max_tokens)
            call_id = f"{run.run_id}:{run.steps}:{attempt}"
            go = self._hooks.before(budget, call_id, worst)
            if go == "circuit_open":
                raise ProviderUnavailable("provider circuit is open", reason="circuit_open")
            if go == "no_money":
                raise StopRun("envelope_exhausted")
            run.attempts += 1
            try:
                completion = self._llm.complete(
                    run.model, messages, tools, max_tokens, timeout_s=left_s
                )
            except TransientError as exc:
                # A call we cut at the ticket's deadline is our bound, not the provider's fault:
                # the circuit does not hear of it.
                cut = exc.reason == "timeout" and left_s < s.llm_timeout_s
                cost = worst if exc.reason == "timeout" else 0
                self._settle(run, budget, call_id, cost, ok=None if cut else False)
                if cut:
                    raise StopRun("deadline") from None
                if isinstance(exc, ProviderMisconfigured):
                    raise  # no retry can mend it: the ticket waits for the operator
                delay_s = self._delay_s(attempt, exc, run)
                if delay_s is None:
                    raise
                self._clock.sleep(delay_s)
                continue
            except PermanentError as exc:
                # An HTTP error response is not billed; the provider did answer.
                self._settle(run, budget, call_id, 0, ok=True)
                if exc.reason.startswith(CONTENT_FILTER):
                    # The provider's content policy refused this ticket's prompt: every retry
                    # would too, and it is no worker fault. A person answers it instead.
                    raise StopRun(exc.reason) from None
                raise
            except BaseException:
                # Unknown failure mid-call: assume it was billed, never under-count.
                self._settle(run, budget, call_id, worst, ok=None)
                raise
            usage = completion.usage
            if usage is None:
                # No usage to bill by: the call costs what was drawn for it, never zero.
                cost_micros = worst
                usage = Usage(prompt_tokens=prompt_ub, completion_tokens=max_tokens)
                run.usage_missing += 1
                if self._on_usage_missing is not None:
                    self._on_usage_missing(run.model)
            else:
                cost_micros = self._prices.cost_micros(run.model, usage)
            tokens = CallTokens(
                usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens, run.model
            )
            self._settle(run, budget, call_id, cost_micros, ok=True, tokens=tokens,
                         headers=completion.headers)  # fmt: skip
            run.llm_calls += 1
            run.add_usage(usage)
            return completion
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _delay_s(self, attempt: int, exc: TransientError, run: RunState) -> float | None:
        s = self._settings
        if attempt >= s.max_retries:
            return None
        delay_s = backoff_s(
            attempt,
            base_ms=s.retry_base_ms,
            max_ms=s.retry_max_ms,
            retry_after_s=exc.retry_after_s,
            rng=self._rng,
        )
        if delay_s is None or self._clock.now_s() + delay_s >= run.deadline_s:
            return None  # the provider needs longer than this ticket has: let the worker park it
        return delay_s

    def _settle(
        self,
        run: RunState,
        budget: CallBudget,
        call_id: str,
        cost_micros: int,
        *,
        ok: bool | None,
        tokens: CallTokens | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._hooks.after(
            budget, call_id, cost_micros, tokens or CallTokens(model=run.model), ok=ok,
            headers=headers,
        )  # fmt: skip
        run.cost_micros += cost_micros
