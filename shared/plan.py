"""The cost and capacity calculator behind `paceline plan`: what a load costs and what breaks first.

Everything is computed in integers (tokens, micro-dollars) from exact decimal inputs, and every
step is written down in `working` so a reader can check it by hand. Tokens in/out are per LLM
call; `steps` is calls per ticket; retries add calls. Each constraint (the day's ceiling, the
provider's tokens and requests per minute, the worker threads) scales linearly with the
request rate, so the one with the least headroom is the first to break, at
`rph * limit / needed` requests per hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from shared.money import MICROS_PER_USD
from shared.pricing import PriceTable, Usage

DAYS_PER_MONTH = 30
# OpenAI usage tier 1 limits (tokens/min, requests/min) when the operator gives none. They
# differ by account and change: `--tpm` / `--rpm` take the numbers from your limits page.
TIER1_LIMITS: dict[str, tuple[int, int]] = {
    "gpt-4-turbo": (30_000, 500),
    "gpt-4o": (30_000, 500),
    "gpt-4.1": (30_000, 500),
    "gpt-4o-mini": (200_000, 500),
    "gpt-4.1-mini": (200_000, 500),
    "gpt-4.1-nano": (200_000, 500),
}
FALLBACK_LIMITS = (30_000, 500)
# The split the interview post assumed; shown when the real split differs, to show the error.
NAIVE_INPUT_SHARE = Fraction(3, 5)


@dataclass(frozen=True)
class PlanInput:
    rph: Decimal
    tokens_in: int
    tokens_out: int
    model: str
    ceiling_micros: int
    retry_rate: Decimal = Decimal(0)
    cache_hit_rate: Decimal = Decimal(0)
    batch: bool = False
    tpm: int | None = None
    rpm: int | None = None
    threads: int = 8
    latency_ms: int = 5_000
    steps: Decimal | int = 1  # model calls per ticket; a mean may be fractional
    hours_per_day: Decimal = Decimal(24)


@dataclass(frozen=True)
class Constraint:
    name: str
    needed: Fraction
    limit: Fraction
    unit: str

    @property
    def breaks_at_rph(self) -> Fraction:
        return self.limit / self.needed if self.needed else Fraction(10**12)

    @property
    def broken(self) -> bool:
        return self.needed > self.limit


@dataclass
class Plan:
    requests_per_day: int
    input_tokens_per_day: int
    cached_tokens_per_day: int
    output_tokens_per_day: int
    cost_per_day_micros: int
    tpm_needed: int
    rpm_needed: Fraction
    concurrency_needed: Fraction
    constraints: list[Constraint]
    first_to_break: str  # the tightest limit, broken or not (`breaks` says which)
    first_breaks_at_rph: int
    working: list[str] = field(default_factory=list)

    @property
    def breaks(self) -> bool:
        """Whether any limit is already broken at the planned load."""
        return any(c.broken for c in self.constraints)

    @property
    def tokens_per_day(self) -> int:
        return self.input_tokens_per_day + self.output_tokens_per_day

    @property
    def cost_per_month_micros(self) -> int:
        return self.cost_per_day_micros * DAYS_PER_MONTH


def _usd(micros: int) -> str:
    return f"${micros / MICROS_PER_USD:,.2f}"


def _n(value: int | Fraction) -> str:
    if isinstance(value, int) or value.denominator == 1:
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def _per_m(micros_per_m: int) -> str:
    return f"${micros_per_m / MICROS_PER_USD:,.4g}/1M"


def compute(p: PlanInput, prices: PriceTable) -> Plan:
    price = prices.price(p.model)  # raises SettingsError naming an unknown model
    unit = price.batch() if p.batch else price
    w: list[str] = []
    rph = Fraction(p.rph)
    calls_per_ticket = Fraction(p.steps) * (1 + Fraction(p.retry_rate))
    requests = math.ceil(rph * Fraction(p.hours_per_day) * calls_per_ticket)
    w.append(
        f"requests/day = {_n(rph)} req/h x {p.hours_per_day} h x {_n(Fraction(p.steps))}"
        " call(s)/ticket"
        f" x (1 + {p.retry_rate} retries) = {requests:,}"
    )
    tokens_in = requests * p.tokens_in
    tokens_out = requests * p.tokens_out
    cached = math.floor(tokens_in * Fraction(p.cache_hit_rate))
    w.append(f"input tokens/day = {requests:,} x {p.tokens_in:,} = {tokens_in:,}")
    w.append(f"output tokens/day = {requests:,} x {p.tokens_out:,} = {tokens_out:,}")
    w.append(f"total tokens/day = {tokens_in + tokens_out:,}")
    usage = Usage(prompt_tokens=tokens_in, cached_tokens=cached, completion_tokens=tokens_out)
    cost = prices.cost_micros(p.model, usage, batch=p.batch)
    tag = " (batch: half price)" if p.batch else ""
    fresh_cost = (tokens_in - cached) * unit.input // 1_000_000
    w.append(
        f"input cost = {tokens_in - cached:,} x {_per_m(unit.input)}{tag} = {_usd(fresh_cost)}"
    )
    if cached:
        cached_cost = cached * unit.cached_input // 1_000_000
        w.append(
            f"cached input cost = {cached:,} ({p.cache_hit_rate} hit rate)"
            f" x {_per_m(unit.cached_input)} = {_usd(cached_cost)}"
        )
    out_cost = tokens_out * unit.output // 1_000_000
    w.append(f"output cost = {tokens_out:,} x {_per_m(unit.output)} = {_usd(out_cost)}")
    w.append(f"cost/day = {_usd(cost)}; x {DAYS_PER_MONTH} days = {_usd(cost * DAYS_PER_MONTH)}")
    w.extend(_split_check(tokens_in, tokens_out, unit.input, unit.output))

    tpm, rpm = p.tpm, p.rpm
    default_tpm, default_rpm = TIER1_LIMITS.get(p.model, FALLBACK_LIMITS)
    tpm = tpm or default_tpm
    rpm = rpm or default_rpm
    calls_per_min = rph * calls_per_ticket / 60
    tokens_per_min = calls_per_min * (p.tokens_in + p.tokens_out)
    tpm_needed = math.ceil(tokens_per_min)
    w.append(
        f"tokens/min = {_n(rph)} x {_n(calls_per_ticket)} calls / 60"
        f" x {p.tokens_in + p.tokens_out:,} = {tpm_needed:,} (limit {tpm:,})"
    )
    w.append(f"requests/min = {_n(calls_per_min)} (limit {rpm:,})")
    latency_s = Fraction(p.latency_ms, 1000)
    concurrency = rph / 3600 * latency_s * calls_per_ticket
    w.append(
        f"concurrency (Little's law) = {_n(rph)}/3600 tickets/s x {_n(latency_s)} s"
        f" x {_n(calls_per_ticket)} calls = {_n(concurrency)} (threads {p.threads})"
    )
    ceiling_per_day = Fraction(p.ceiling_micros)
    constraints = [
        Constraint("daily_ceiling", Fraction(cost), ceiling_per_day, "micros/day"),
        Constraint("tpm", tokens_per_min, Fraction(tpm), "tokens/min"),
        Constraint("rpm", calls_per_min, Fraction(rpm), "requests/min"),
        Constraint("concurrency", concurrency, Fraction(p.threads), "threads"),
    ]
    first = min(constraints, key=lambda c: c.breaks_at_rph)
    breaks_at = math.floor(first.breaks_at_rph * rph)
    if first.broken:
        w.append(f"first to break: {first.name} (already broken at {_n(rph)} req/h)")
    else:
        w.append(
            f"nothing breaks at {_n(rph)} req/h; the tightest limit is {first.name}, "
            f"reached at {breaks_at:,} req/h"
        )
    return Plan(
        requests_per_day=requests,
        input_tokens_per_day=tokens_in,
        cached_tokens_per_day=cached,
        output_tokens_per_day=tokens_out,
        cost_per_day_micros=cost,
        tpm_needed=tpm_needed,
        rpm_needed=calls_per_min,
        concurrency_needed=concurrency,
        constraints=constraints,
        first_to_break=first.name,
        first_breaks_at_rph=breaks_at,
        working=w,
    )


def _split_check(tokens_in: int, tokens_out: int, in_price: int, out_price: int) -> list[str]:
    """Price the same total with the post's 60/40 split, to show why that shortcut is wrong."""
    total = tokens_in + tokens_out
    if total == 0 or Fraction(tokens_in, total) == NAIVE_INPUT_SHARE:
        return []
    naive_in = math.floor(total * NAIVE_INPUT_SHARE)
    naive_out = total - naive_in
    naive_cost = -(-(naive_in * in_price + naive_out * out_price) // 1_000_000)
    share = round(100 * tokens_in / total)
    return [
        f"split check: these calls are {share}/{100 - share} in/out ({tokens_in:,} in /"
        f" {tokens_out:,} out); a 60/40 split of {total:,} tokens ({naive_in:,} in /"
        f" {naive_out:,} out) would give {_usd(naive_cost)}/day, which is wrong: input and"
        " output are priced separately, so split by the real per-call counts"
    ]
