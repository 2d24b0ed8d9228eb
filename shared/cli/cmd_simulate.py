"""`paceline simulate`: a compressed budget day against the real Redis, in seconds.

It runs the policy the workers and the scheduler run (the ladder, the first-response SLO and
`PACELINE_OVER_SLO`, the forecast) on an injected clock, with synthetic tickets priced by the
price table (or usages resampled from recorded outcomes: `--from-outcomes`). `--compare` runs
every over-SLO policy on the same seeded day; `--with-replay` runs the day without and then
with a replay batch alongside, so the live lane's first response can be compared.
`--conversations FILE` plays scripted customers through the running stack instead
(shared/cli/simulate_conversations.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import redis
import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.redis_client import make_redis
from shared.settings import Settings

# Fewer recorded outcomes than this are too few to resample a day from.
MIN_OUTCOMES = 20


def register(app: typer.Typer) -> None:
    @app.command()
    def simulate(
        hours: Annotated[
            float, typer.Option(min=1, max=72, help="Length of the simulated run.")
        ] = 24,
        demand_x: Annotated[
            float, typer.Option(min=0.1, help="Live demand as a multiple of the ceiling.")
        ] = 3.0,
        with_replay: Annotated[
            bool, typer.Option(help="Also run the day with a replay batch alongside.")
        ] = False,
        over_slo: Annotated[
            str | None,
            typer.Option(help="cheapest | handoff | wait (default: PACELINE_OVER_SLO)."),
        ] = None,
        compare: Annotated[
            bool, typer.Option("--compare", help="Run every over-SLO policy on the same day.")
        ] = False,
        from_outcomes: Annotated[
            bool,
            typer.Option("--from-outcomes", help="Resample ticket usage from recorded outcomes."),
        ] = False,
        history_days: Annotated[
            int, typer.Option(min=0, max=7, help="Past days the forecast learns from (0: none).")
        ] = 7,
        plot: Annotated[
            Path | None, typer.Option(help="Draw spend and first response by hour to FILE.png.")
        ] = None,
        seed: Annotated[int, typer.Option(help="Seed of the synthetic traffic.")] = 7,
        step_s: Annotated[
            int, typer.Option(min=10, max=600, help="Simulated seconds per step.")
        ] = 60,
        tickets_per_day: Annotated[
            int, typer.Option(min=100, help="Tickets the ceiling pays for at 1x.")
        ] = 2000,
        conversations: Annotated[
            Path | None,
            typer.Option(
                help="Instead: play these scripted conversations (JSONL) through the running "
                "stack at --url, message by message."
            ),
        ] = None,
        url: Annotated[
            str, typer.Option(help="The webhook app, for --conversations.")
        ] = "http://127.0.0.1:8080",
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Simulate a day of bursty demand: answers by model, hand-offs, first response, spend;
        or play scripted conversations through the running stack (--conversations)."""
        if conversations is not None:
            from shared.cli.simulate_conversations import run_conversations

            run_conversations(settings_or_exit(), conversations, url, as_json)
            return
        from shared.cli.simulate_report import check_plot, draw_plot, print_report
        from workers.scheduler.simulation import (
            MODE,
            POLICIES,
            SimConfig,
            simulate,
            simulate_policies,
        )

        settings = settings_or_exit()
        if over_slo is not None and over_slo not in POLICIES:
            fail(f"--over-slo: must be one of {', '.join(POLICIES)}", Exit.USAGE)
        if plot is not None:
            check_plot(plot)
        # Alerts fire inside the simulation; they are reported in the result, not logged here.
        logging.getLogger("paceline").setLevel(logging.ERROR)
        cfg = SimConfig(
            hours=hours,
            demand_x=demand_x,
            step_s=step_s,
            seed=seed,
            tickets_per_day=tickets_per_day,
            over_slo=over_slo or settings.over_slo,
            history_days=history_days,
        )
        client = make_redis(settings, max_connections=4)
        started = time.monotonic()
        try:
            usage = _recorded_usage(settings, client) if from_outcomes else None
            shown = simulate(settings, replace(cfg, with_replay=with_replay), client, usage)
            others = []
            if compare:
                rest = tuple(p for p in POLICIES if p != cfg.over_slo)
                others = simulate_policies(settings, replace(cfg, with_replay=with_replay),
                                           client, rest, usage)  # fmt: skip
            without = simulate(settings, cfg, client, usage) if with_replay else None
        except redis.ConnectionError:
            fail(f"Redis is not reachable at {settings.redis_url}", Exit.UNAVAILABLE)
        doc: dict[str, Any] = {
            "mode": MODE,
            "with_replay": with_replay,
            "usage": "recorded outcomes" if from_outcomes else "synthetic",
            "ladder": shown.models,
            **shown.summary(),
            "hours": shown.hours_doc(),
            "elapsed_s": 0.0,
        }
        if compare:
            doc["compare"] = [r.summary() for r in (shown, *others)]
        if without is not None:
            doc["without_replay"] = without.summary()
        if plot is not None:
            draw_plot(shown, plot)
            doc["plot"] = str(plot)
        doc["elapsed_s"] = round(time.monotonic() - started, 2)
        if as_json:
            print_json(doc)
            return
        print_report(doc)


def _recorded_usage(settings: Settings, client: redis.Redis) -> Any:
    """Usages of the outcomes recorded in this namespace that ran the agent."""
    from shared.keys import Keys
    from shared.pricing import Usage
    from shared.stores.outcomes import OutcomeStore
    from workers.scheduler.sim_traffic import RecordedUsage

    samples = [
        Usage(o.prompt_tokens, o.cached_tokens, o.completion_tokens)
        for o in OutcomeStore(client, Keys(settings.namespace)).iter_outcomes()
        if o.llm_calls and o.prompt_tokens
    ]
    if len(samples) < MIN_OUTCOMES:
        fail(
            f"--from-outcomes: {len(samples)} recorded outcomes with usage in namespace "
            f"{settings.namespace!r}; at least {MIN_OUTCOMES} are needed",
            Exit.USAGE,
        )
    return RecordedUsage(samples)
