"""`paceline webhook` as a real uvicorn subprocess on loopback (tests and the benchmark)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]
# Runs the command function itself, so this does not depend on every other CLI module.
LAUNCH = "import typer; from shared.cli.cmd_webhook import webhook; typer.run(webhook)"


class WebhookProcess:
    def __init__(self, env: dict[str, str], port: int, *, extra_code: str = "") -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        code = extra_code or LAUNCH
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, "--port", str(port)],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"webhook exited: {err[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("webhook did not start")

    def terminate(self, timeout_s: float = 10) -> int:
        """SIGTERM and wait; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        finally:
            if self.proc.stderr:
                self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
