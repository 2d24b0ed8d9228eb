"""The first-response SLO on a simulated day: what each over-SLO policy does with the money.

What runs: `paceline simulate`'s day (workers/scheduler/simulation.py: the real ledger,
scheduler, forecast and SLO policy on an injected clock against the real Redis), 24 h, seed 7,
2,000 tickets a day at 1x, the shipped default model, ladder and list prices, seven past days
like it for the forecast. At 3x demand under each policy (`--compare`), then at 0.8x and 0.5x
with `cheapest`. Last, the same 3x day with a ladder that has room below its default
(gpt-4.1-mini -> gpt-4o-mini -> gpt-4.1-nano). These are figures of the policy, not of the
machine: they are the same on any host.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import redis

from tests.bench.common import Timer, bench_namespace, row
from tests.conftest import REDIS_URL
from workers.scheduler.sim_result import SimResult
from workers.scheduler.simulation import SimConfig, simulate

ISSUE = 26
COMMAND = ".venv/bin/python tests/bench/run_all.py --only slo"
CFG = SimConfig(hours=24, demand_x=3.0, seed=7)


def _day(cfg: SimConfig, **env: Any) -> tuple[SimResult, float]:
    with bench_namespace(**env) as settings:
        r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        with Timer() as t:
            result = simulate(settings, cfg, r)
        r.close()
    return result, t.seconds


def _rows(
    label: str, res: SimResult, *, target_answered: float | None, overloaded: bool = True
) -> list[dict[str, Any]]:
    s = res.summary()
    # Demand the ceiling cannot pay for spends it all; demand below it only never passes it.
    spent_ok = res.spent_micros <= res.ceiling_micros and (97 <= s["spent_pct"] or not overloaded)
    within = res.policy != "wait"
    rows = [
        row(ISSUE, f"{label}: live tickets past the SLO", res.past_slo, "tickets",
            target="0" if within else "", higher_is_better=False,
            passed=res.past_slo == 0 if within else None, command=COMMAND),
        row(ISSUE, f"{label}: spent of the ceiling", s["spent_pct"], "%",
            target=">= 97, never above" if overloaded else "never above", passed=spent_ok,
            command=COMMAND),
        row(ISSUE, f"{label}: answered by the agent", s["answered_pct"], "% of live",
            target="" if target_answered is None else f">= {target_answered}",
            passed=None if target_answered is None else s["answered_pct"] >= target_answered,
            command=COMMAND),
        row(ISSUE, f"{label}: handed off", s["handed_off_pct"], "% of live", command=COMMAND),
    ]  # fmt: skip
    for model, pct in s["answered_by_model_pct"].items():
        rows.append(row(ISSUE, f"{label}: answered on {model}", pct, "% of live", command=COMMAND))
    for pct, secs in s["first_response_s"].items():
        rows.append(row(ISSUE, f"{label}: first response {pct}", secs, "s",
                        higher_is_better=False, command=COMMAND))  # fmt: skip
    return rows


def _no_degradation(label: str, res: SimResult) -> list[dict[str, Any]]:
    s = res.summary()
    default = res.models[0]
    kept = s["degraded"] + res.handoffs == 0 and res.past_slo == 0
    return [
        *_rows(label, res, target_answered=100.0, overloaded=False),
        row(ISSUE, f"{label}: answered below the default model or handed off",
            s["degraded"] + res.handoffs, "tickets", target="0", passed=kept,
            higher_is_better=False, command=COMMAND),
        row(ISSUE, f"{label}: answered on the default model", s["answered_by_model_pct"][default],
            "% of live", target="100", passed=s["answered_by_model_pct"][default] == 100,
            command=COMMAND),
    ]  # fmt: skip


def run(quick: bool = False) -> list[dict[str, Any]]:
    cfg = replace(CFG, hours=12) if quick else CFG
    rows: list[dict[str, Any]] = []
    seconds = 0.0
    for policy in ("cheapest", "handoff", "wait"):
        res, secs = _day(replace(cfg, over_slo=policy))
        seconds += secs
        target = 90.0 if policy == "cheapest" else None
        rows += _rows(f"3x, {policy}", res, target_answered=target)
    rows.append(row(ISSUE, "3x, the three policies: simulated in", seconds, "s",
                    higher_is_better=False, command=COMMAND))  # fmt: skip
    for demand_x in (0.8, 0.5):
        res, _ = _day(replace(cfg, demand_x=demand_x, over_slo="cheapest"))
        rows += _no_degradation(f"{demand_x}x, cheapest", res)
    for policy in ("cheapest", "wait"):
        res, _ = _day(replace(cfg, demand_x=6.0, over_slo=policy))
        rows += _rows(f"6x, {policy}", res, target_answered=None)
    narrow, _ = _day(
        replace(cfg, over_slo="cheapest"),
        model="gpt-4o-mini",
        model_ladder="gpt-4o-mini,gpt-4.1-nano",
    )
    rows += _rows("3x, cheapest, the old default gpt-4o-mini -> gpt-4.1-nano", narrow,
                  target_answered=None)  # fmt: skip
    return rows


if __name__ == "__main__":
    for r_ in run():
        print(r_)
