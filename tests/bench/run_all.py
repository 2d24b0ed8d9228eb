"""`make bench`: every benchmark against its baseline in the same run; one table, one JSON file.

Usage: python tests/bench/run_all.py [--quick] [--only NAME ...]
Each `bench_<name>.py` here exposes `run(quick: bool = False) -> list[dict]`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

ORDER = [
    "core",
    "agent",
    "webhook",
    "conversations",
    "replay",
    "scheduler",
    "slo",
    "dlq",
    "history",
    "observability",
    "simulator",
    "scaling",
    "memory",
    "connectors",
    "overhead",
    "latency",
]


def discover() -> list[str]:
    found = sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))
    return sorted(found, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--out", default=str(ROOT / "bench-results.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    console = Console(width=170)
    rows: list[dict[str, object]] = []
    errors: dict[str, str] = {}
    names = [n for n in discover() if not args.only or n in args.only]
    for name in names:
        console.print(f"[bold]bench {name}[/bold] ...")
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"tests.bench.bench_{name}")
            got = module.run(quick=args.quick)
            for r in got:
                r.setdefault("bench", name)
            rows.extend(got)
        except Exception:
            errors[name] = traceback.format_exc(limit=5)
            console.print(f"[red]bench {name} failed[/red]\n{errors[name]}")
        console.print(f"  {time.perf_counter() - started:.1f} s")
    table = Table(title="paceline benchmarks")
    for col in ("issue", "figure", "value", "baseline", "ratio", "target", "pass"):
        table.add_column(col)
    for r in rows:
        verdict = {True: "[green]pass[/green]", False: "[red]FAIL[/red]", None: "-"}[r.get("pass")]  # type: ignore[index]
        table.add_row(
            str(r.get("issue")),
            str(r["name"]),
            f"{r['figure']} {r['unit']}",
            "" if r.get("baseline") is None else str(r["baseline"]),
            "" if r.get("ratio") is None else str(r["ratio"]),
            str(r.get("target") or ""),
            verdict,
        )
    console.print(table)
    doc = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
        "errors": errors,
    }
    Path(args.out).write_text(json.dumps(doc, indent=2))
    console.print(f"wrote {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
