"""`paceline simulate`: a compressed budget day against the real Redis, in seconds.

Runs the day twice, without and then with a replay batch alongside, so the live lane's wait
can be compared; the table and `hours` show the run chosen by `--with-replay`.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

import redis
import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.cli.output import console, table
from shared.display import PLAN_PLACES, usd
from shared.money import MICROS_PER_USD
from shared.redis_client import make_redis

CHART_WIDTH = 50


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
            bool, typer.Option(help="Show the run with a replay batch.")
        ] = False,
        seed: Annotated[int, typer.Option(help="Seed of the synthetic traffic.")] = 7,
        step_s: Annotated[
            int, typer.Option(min=10, max=600, help="Simulated seconds per step.")
        ] = 60,
        tickets_per_day: Annotated[
            int, typer.Option(min=100, help="Tickets the ceiling pays for at 1x.")
        ] = 2000,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Simulate a day of bursty demand on a compressed clock: spend against the pace line."""
        from workers.scheduler.simulation import MODE, SimConfig, simulate_pair

        settings = settings_or_exit()
        # Alerts fire inside the simulation; they are reported in the result, not logged here.
        logging.getLogger("paceline").setLevel(logging.ERROR)
        cfg = SimConfig(
            hours=hours,
            demand_x=demand_x,
            with_replay=with_replay,
            step_s=step_s,
            seed=seed,
            tickets_per_day=tickets_per_day,
        )
        client = make_redis(settings, max_connections=4)
        started = time.monotonic()
        try:
            without, with_ = simulate_pair(settings, cfg, client)
        except redis.ConnectionError:
            fail(f"Redis is not reachable at {settings.redis_url}", Exit.UNAVAILABLE)
        shown = with_ if with_replay else without
        doc: dict[str, Any] = {
            "mode": MODE,
            "with_replay": with_replay,
            "demand_x": demand_x,
            "ceiling_micros": shown.ceiling_micros,
            "burst_micros": shown.burst_micros,
            "spent_micros": shown.spent_micros,
            "spent_pct": round(100 * shown.spent_micros / shown.ceiling_micros, 2),
            "max_ahead_of_pace_micros": shown.max_ahead_micros,
            "live_arrived": shown.live_arrived,
            "live_admitted": len(shown.live_waits_ms),
            "replay_admitted": shown.replay_admitted,
            "alerts": shown.alerts,
            "hours": shown.hours_doc(),
            "live_wait_p95_s": {
                "with_replay": with_.live_wait_p95_s(),
                "without_replay": without.live_wait_p95_s(),
            },
            "elapsed_s": round(time.monotonic() - started, 2),
        }
        if as_json:
            print_json(doc)
            return
        _print(doc)


def headline(doc: dict[str, Any]) -> str:
    """The run in one line, first: what was served, handed off, waited, and spent."""
    p95 = doc["live_wait_p95_s"]
    shown = p95["with_replay"] if doc["with_replay"] else p95["without_replay"]
    return (
        f"served {doc['live_admitted']:,} of {doc['live_arrived']:,} live tickets, "
        f"handed off {doc.get('handed_off', 0):,}, p95 first response {shown:.0f} s, "
        f"spent {usd(doc['spent_micros'], PLAN_PLACES)} of "
        f"{usd(doc['ceiling_micros'], PLAN_PLACES)} ({doc['spent_pct']}%)"
    )


def _print(doc: dict[str, Any]) -> None:
    out = console()
    out.print(headline(doc))
    title = (
        f"simulated day, {doc['demand_x']}x demand "
        f"({'with' if doc['with_replay'] else 'without'} replay)"
    )
    columns = ("hour", "spent $", "total $", "pace line $", "admitted", "deferred",
               "degraded", "replay", "parked")  # fmt: skip
    rows = [
        (
            h["hour"],
            f"{h['spent_usd']:.2f}",
            f"{h['cumulative_usd']:.2f}",
            f"{h['pace_line_usd']:.2f}",
            h["admitted"],
            h["deferred"],
            h["degraded"],
            h["replay_admitted"],
            h["parked"],
        )
        for h in doc["hours"]
    ]
    out.print(table(columns, rows, title=title, right=columns))
    out.print(_chart(doc))
    p95 = doc["live_wait_p95_s"]
    out.print(
        f"at most {usd(doc['max_ahead_of_pace_micros'], PLAN_PLACES)} ahead of the pace line "
        f"(burst {usd(doc['burst_micros'], PLAN_PLACES)}); live p95 wait "
        f"{p95['without_replay']:.0f} s without replay, {p95['with_replay']:.0f} s with; "
        f"alerts: {', '.join(doc['alerts']) or 'none'}"
    )
    out.print(f"[{doc['mode']}; {doc['elapsed_s']} s]")


def _chart(doc: dict[str, Any]) -> str:
    """Cumulative spend per hour as bars; '|' marks the pace line."""
    ceiling = doc["ceiling_micros"] / MICROS_PER_USD or 1.0
    lines = ["cumulative spend ('#') against the pace line ('|'):"]
    for h in doc["hours"]:
        bar = int(CHART_WIDTH * h["cumulative_usd"] / ceiling)
        mark = min(int(CHART_WIDTH * h["pace_line_usd"] / ceiling), CHART_WIDTH)
        cells = ["#" if i < bar else " " for i in range(CHART_WIDTH + 1)]
        cells[mark] = "|"
        lines.append(f"{h['hour']:>3} {''.join(cells)} {h['cumulative_usd']:.2f}")
    return "\n".join(lines)
