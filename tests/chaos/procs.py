"""Child processes of one chaos scenario: the paceline stack and, when asked, a private Redis.

Each child runs in its own session, so a SIGKILL hits exactly the process the scenario means
(a `paceline worker --processes 1` serves in-process: the kill lands on the worker itself).
Only what this module started is ever signalled, by pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[2]


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(ready: Callable[[], bool], timeout_s: float, every_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(every_s)
    return ready()


class Procs:
    """Named children with their logs in one directory; restarts keep the name."""

    def __init__(self, env: dict[str, str], logs_dir: str) -> None:
        self.env = env
        self.logs_dir = logs_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.cmds: dict[str, list[str]] = {}
        self.restarts: dict[str, int] = {}

    def paceline(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self.spawn(name, [sys.executable, "-m", "shared.cli.main", *args])

    def spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        # Appending: a restarted process keeps writing to the same log, after its first life.
        with open(os.path.join(self.logs_dir, f"{name}.log"), "ab") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[name] = proc
        self.cmds[name] = cmd
        return proc

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        self.restarts[name] = self.restarts.get(name, 0) + 1
        return self.spawn(name, self.cmds[name])

    def kill(self, name: str, sig: int = signal.SIGKILL, timeout_s: float = 10) -> int | None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def dead(self) -> dict[str, int]:
        """Children that exited on their own: name -> exit code."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop_all(self, timeout_s: float = 15) -> None:
        """SIGTERM everyone (workers finish their ticket), wait, then SIGKILL stragglers."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.2))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self, name: str, chars: int = 1500) -> str:
        path = os.path.join(self.logs_dir, f"{name}.log")
        try:
            return Path(path).read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class PrivateRedis:
    """A redis-server of the suite's own, AOF fsync'd on every write, on its own port and dir,
    so it can be killed and restarted without touching the shared Redis."""

    def __init__(self, port: int) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found; apt-get install redis-server")
        self.binary = binary
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="paceline-chaos-redis-")
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.dir,
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ]
        with open(os.path.join(self.dir, "redis.log"), "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        if not wait_until(self.answers, 20):
            raise RuntimeError(f"private redis did not start on {self.port}")

    def answers(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown; what survives is what the AOF had fsync'd."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
