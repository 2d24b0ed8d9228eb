"""The local stack for `paceline up`: Redis (a private one if none answers), the simulator,
the webhook app, a worker and the scheduler, each a child process stopped cleanly together."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import httpx
import redis

from shared.errors import StackError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def private_redis_argv(binary: str, port: int) -> list[str]:
    """A loopback redis-server of our own, nothing persisted (add `--dir` for its files)."""
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@dataclass
class Stack:
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="paceline-up-"))

    def ensure_redis(self, url: str) -> str:
        """The configured Redis if it answers, else a private redis-server, else a clear error."""
        if redis_answers(url):
            return url
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError(
                f"no Redis answers at {url}; install one (Debian: apt-get install redis-server) "
                "or set PACELINE_REDIS_URL"
            )
        port = free_port()
        self._spawn("redis", [*private_redis_argv(binary, port), "--dir", self.logs_dir])
        private = f"redis://127.0.0.1:{port}/0"
        self._wait(lambda: redis_answers(private), "redis-server")
        return private

    def start_paceline(self, name: str, *args: str, ready_url: str | None = None) -> None:
        self._spawn(name, [sys.executable, "-m", "shared.cli.main", *args])
        if ready_url:
            self._wait(lambda: _http_ok(ready_url), name)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(os.path.join(self.logs_dir, f"{name}.log"), "wb")
        self.procs[name] = subprocess.Popen(
            cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def _wait(self, ready: object, name: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        proc = self.procs[name if name in self.procs else "redis"]
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StackError(f"{name} exited at start; see {self.logs_dir}/{name}.log")
            if ready():  # type: ignore[operator]
                return
            time.sleep(0.1)
        raise StackError(f"{name} did not become ready in {timeout_s:.0f} s; see {self.logs_dir}")

    def check_alive(self) -> str | None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return name
        return None

    def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM every child (workers finish their current ticket), then wait, then kill.
        Redis goes last so the others can finish writing."""
        order = [n for n in self.procs if n != "redis"] + (
            ["redis"] if "redis" in self.procs else []
        )
        for name in order[:-1] if "redis" in self.procs else order:
            _signal(self.procs[name], signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for name in order:
            proc = self.procs[name]
            if name == "redis":
                _signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.5))
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
                proc.wait()
        self.procs.clear()


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False
