"""How `paceline simulate` shows a day: the headline first, the policies side by side, the
hours, a text chart of spend against the pace line, and `--plot FILE.png` (matplotlib, from
the optional `plot` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.cli.common import Exit, fail
from shared.cli.output import console, table
from shared.display import PLAN_PLACES, usd
from shared.money import MICROS_PER_USD

CHART_WIDTH = 50
PLOT_EXTRA = "pip install 'paceline[plot]'"


def headline(s: dict[str, Any]) -> str:
    """A run in one line: answered by model, handed off, past the SLO, first response, spend."""
    by_model = ", ".join(f"{m} {pct}%" for m, pct in s["answered_by_model_pct"].items())
    fr, ho = s["first_response_s"], s["handed_off"]
    return (
        f"{s['policy']} at {s['demand_x']}x demand: {s['live_arrived']:,} live tickets; "
        f"answered by the agent {s['answered']:,} ({s['answered_pct']}%: {by_model}); "
        f"handed off {ho['within_slo'] + ho['past_slo']:,} ({s['handed_off_pct']}%); "
        f"past the {s['slo_s']} s SLO {s['past_slo']:,}; first response p50 {fr['p50']:.0f} s, "
        f"p95 {fr['p95']:.0f} s, p99 {fr['p99']:.0f} s; spent "
        f"{usd(s['spent_micros'], PLAN_PLACES)} of {usd(s['ceiling_micros'], PLAN_PLACES)} "
        f"({s['spent_pct']}%)"
    )


def print_report(doc: dict[str, Any]) -> None:
    out = console()
    out.print(headline(doc))
    if "without_replay" in doc:
        out.print("without the replay batch: " + headline(doc["without_replay"]))
    if "compare" in doc:
        out.print(_compare(doc["compare"]))
    cols = ("hour", "arrived", "answered", "degraded", "handed off", "past SLO", "p95 s",
            "line", "model", "spent $", "total $", "pace line $")  # fmt: skip
    rows = [
        (h["hour"], h["arrived"], h["answered"], h["degraded"], h["handed_off"], h["past_slo"],
         f"{h['p95_first_response_s']:.0f}", h["line"], h["rung"], f"{h['spent_usd']:.2f}",
         f"{h['cumulative_usd']:.2f}", f"{h['pace_line_usd']:.2f}")
        for h in doc["hours"]
    ]  # fmt: skip
    title = f"the day by hour ({doc['policy']}, {doc['demand_x']}x)"
    out.print(table(cols, rows, title=title, right=[c for c in cols if c != "model"]))
    out.print(_chart(doc))
    alerts = ", ".join(doc["alerts"]) or "none"
    out.print(
        f"[{doc['mode']}; usage: {doc['usage']}; forecast: {doc['forecast']}; alerts: "
        f"{alerts}; {doc['elapsed_s']} s]"
    )


def _compare(runs: list[dict[str, Any]]) -> Any:
    models = list(runs[0]["answered_by_model_pct"])
    cols = ("policy", "answered %", *(f"{m} %" for m in models), "handed off %", "past SLO",
            "p50 s", "p95 s", "p99 s", "spent %")  # fmt: skip
    rows = [
        (s["policy"], s["answered_pct"], *(s["answered_by_model_pct"][m] for m in models),
         s["handed_off_pct"], s["past_slo"], f"{s['first_response_s']['p50']:.0f}",
         f"{s['first_response_s']['p95']:.0f}", f"{s['first_response_s']['p99']:.0f}",
         s["spent_pct"])
        for s in runs
    ]  # fmt: skip
    title = "the same day under each over-SLO policy"
    return table(cols, rows, title=title, right=cols[1:])


def _chart(doc: dict[str, Any]) -> str:
    """Cumulative spend per hour as bars; '|' marks the even pace line."""
    ceiling = doc["ceiling_micros"] / MICROS_PER_USD or 1.0
    lines = ["cumulative spend ('#') against the even pace line ('|'):"]
    for h in doc["hours"]:
        bar = int(CHART_WIDTH * h["cumulative_usd"] / ceiling)
        mark = min(int(CHART_WIDTH * h["pace_line_usd"] / ceiling), CHART_WIDTH)
        cells = ["#" if i < bar else " " for i in range(CHART_WIDTH + 1)]
        cells[mark] = "|"
        lines.append(f"{h['hour']:>3} {''.join(cells)} {h['cumulative_usd']:.2f}")
    return "\n".join(lines)


def check_plot(path: Path) -> None:
    """Before simulating: matplotlib is installed and the file can be written."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        fail(f"--plot needs matplotlib: {PLOT_EXTRA}", Exit.USAGE)
    if path.suffix.lower() != ".png":
        fail(f"--plot: {path} must end in .png", Exit.USAGE)
    if not path.parent.is_dir():
        fail(f"--plot: directory {path.parent} does not exist", Exit.USAGE)


def draw_plot(result: Any, path: Path) -> None:
    """Spend against the pace line, and first response against the SLO, by hour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [h.hour for h in result.hours]
    fig, (spend, wait) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    spend.plot(hours, [h.cumulative_usd for h in result.hours], label="spent")
    spend.plot(hours, [h.pace_line_usd for h in result.hours], "--", label="even pace line")
    spend.axhline(result.ceiling_micros / 1e6, color="grey", lw=0.8, label="ceiling")
    spend.set_ylabel("USD")
    spend.set_title(f"{result.policy} at {result.demand_x}x demand")
    spend.legend()
    wait.plot(hours, [h.p95_first_response_s for h in result.hours], label="p95 first response")
    wait.axhline(result.slo_s, color="red", lw=0.8, label="SLO")
    wait.set_xlabel("hour of the day")
    wait.set_ylabel("seconds")
    wait.legend(loc="upper left")
    handed = wait.twinx()
    handed.bar(hours, [h.handed_off for h in result.hours], alpha=0.3, label="handed off")
    handed.set_ylabel("tickets handed off")
    handed.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
