"""Shared bits for benchmarks: rows, private namespaces, timing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from shared.settings import Settings
from tests.conftest import REDIS_URL, delete_namespace, make_settings


def row(
    issue: int,
    name: str,
    figure: float,
    unit: str,
    *,
    baseline: float | None = None,
    target: str = "",
    passed: bool | None = None,
    command: str = "make bench",
    higher_is_better: bool = True,
) -> dict[str, Any]:
    ratio = None
    if baseline:
        ratio = round(figure / baseline, 3) if higher_is_better else round(baseline / figure, 3)
    return {
        "issue": issue,
        "name": name,
        "figure": round(figure, 3),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": ratio,
        "target": target,
        "pass": passed,
        "command": command,
    }


@contextmanager
def bench_namespace(**env: Any) -> Iterator[Settings]:
    ns = f"plbench-{uuid.uuid4().hex[:8]}"
    try:
        yield make_settings(ns, **env)
    finally:
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        delete_namespace(client, ns)
        client.close()


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
