"""One scenario's stack: simulator, webhook app, workers and schedulers as separate processes,
all in the scenario's own namespace, pointed at the Redis the scenario chose.

Cleanup removes only what the scenario made: its processes (by pid) and its namespace's keys.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from typing import Any

import httpx
import redis

from shared.keys import Keys
from shared.settings import Settings, load_settings
from shared.stores.outcomes import OutcomeStore
from tests.chaos.procs import Procs, http_ok, wait_until
from tests.conftest import delete_namespace, free_port

SECRET = "chaos-webhook-secret"


class ChaosStack:
    def __init__(
        self,
        name: str,
        redis_url: str,
        *,
        workers: int = 2,
        threads: int = 4,
        schedulers: int = 1,
        latency_ms: int = 0,
        env: dict[str, str] | None = None,
        scheduler_args: tuple[str, ...] = ("--interval-s", "0.25", "--lease-ms", "2000"),
    ) -> None:
        self.name = name
        self.redis_url = redis_url
        self.namespace = f"chaos-{name}-{uuid.uuid4().hex[:8]}"
        self.logs_dir = tempfile.mkdtemp(prefix=f"paceline-chaos-{name}-")
        self.sim_port, self.web_port = free_port(), free_port()
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.env = self._env(env or {})
        self.procs = Procs(self.env, self.logs_dir)
        self.n_workers, self.threads, self.n_schedulers = workers, threads, schedulers
        self.latency_ms = latency_ms
        self.scheduler_args = scheduler_args
        self.client = redis.Redis.from_url(
            redis_url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5
        )
        self.keys = Keys(self.namespace)
        self.outcomes = OutcomeStore(self.client, self.keys)

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PACELINE_")}
        env.update(
            {
                "PACELINE_REDIS_URL": self.redis_url,
                "PACELINE_NAMESPACE": self.namespace,
                "PACELINE_LLM_BASE_URL": f"{self.sim_url}/v1",
                "PACELINE_LLM_API_KEY": "sk-chaos",
                "PACELINE_WEBHOOK_SECRET_GENERIC": SECRET,
                # The scenarios' callback receivers listen on loopback.
                "PACELINE_ALLOW_PRIVATE_NETWORKS": "true",
                # Caps only: the pace is its own scenario's business, not every fault's.
                "PACELINE_PACING": "off",
                # A killed worker's messages come back in seconds, not dramatiq's minute.
                "PACELINE_HEARTBEAT_TIMEOUT_MS": "3000",
                "PACELINE_RESERVATION_LEASE_S": "20",
                "PACELINE_LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if "metrics_port" in Settings.model_fields:
            env["PACELINE_METRICS_PORT"] = "0"  # many workers on one host: no port fights
        env.update(extra)
        return env

    def settings(self) -> Settings:
        return load_settings({k: v for k, v in self.env.items() if k.startswith("PACELINE_")})

    # --- processes -----------------------------------------------------------------------
    def start(self) -> ChaosStack:
        self.procs.paceline(
            "simulator",
            "simulator",
            "--port",
            str(self.sim_port),
            "--seed",
            "7",
            "--latency-ms",
            str(self.latency_ms),
        )
        self.procs.paceline("webhook", "webhook", "--port", str(self.web_port))
        for i in range(1, self.n_workers + 1):
            self.start_worker(f"worker-{i}")
        for i in range(1, self.n_schedulers + 1):
            self.start_scheduler(f"scheduler-{i}")
            if i == 1:
                # The first one leads: the scenario knows whom to kill.
                self._need(lambda: self.leader() is not None, "scheduler-1", 20)
        self._need(lambda: http_ok(f"{self.sim_url}/v1/models"), "simulator", 30)
        self._need(lambda: http_ok(f"{self.web_url}/healthz"), "webhook", 30)
        return self

    def start_worker(self, name: str) -> None:
        self.procs.paceline(name, "worker", "--processes", "1", "--threads", str(self.threads))

    def start_scheduler(self, name: str) -> None:
        self.procs.paceline(name, "scheduler", *self.scheduler_args)

    def _need(self, ready: Any, name: str, timeout_s: float) -> None:
        if not wait_until(ready, timeout_s):
            raise RuntimeError(f"{name} not ready: {self.procs.log_tail(name)}")

    def leader(self) -> str | None:
        try:
            value = self.client.get(self.keys.scheduler_leader)
        except redis.RedisError:
            return None
        return str(value) if value else None

    def stop(self) -> None:
        self.procs.stop_all()
        try:
            delete_namespace(self.client, self.namespace)
        finally:
            self.client.close()

    # --- the provider --------------------------------------------------------------------
    def faults(self, **fields: Any) -> None:
        httpx.post(f"{self.sim_url}/_sim/faults", json=fields, timeout=5).raise_for_status()

    def sim_stats(self) -> dict[str, Any]:
        doc: dict[str, Any] = httpx.get(f"{self.sim_url}/_sim/stats", timeout=5).json()
        return doc

    def wait_in_flight(self, timeout_s: float = 10) -> bool:
        return wait_until(lambda: int(self.sim_stats().get("in_flight", 0)) > 0, timeout_s, 0.02)


def elapsed_since(start: float) -> float:
    return round(time.monotonic() - start, 1)
