"""Running the simulator: in this process (the CLI), in a background thread, or as a child.

`serve` blocks and lets uvicorn handle SIGINT/SIGTERM (a clean stop, exit 0). `start_in_thread`
is for tests and tools that want a provider inside their own process; uvicorn installs no
signal handlers off the main thread, so `stop()` is the only way it ends. `command` builds the
argv (the `paceline simulator` command) that `paceline up` can hand to subprocess.Popen.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import threading
import time
from types import FrameType

import uvicorn

from shared.simulator.app import build_app
from shared.simulator.config import SimConfig

# Bounded so a request parked in a `timeout` fault cannot hold a shutdown for a minute.
GRACEFUL_SHUTDOWN_S = 1


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn records the signal and re-raises it after its graceful stop, so the process
        # would end "killed by SIGTERM"; a stop that was asked for is a success (exit 0) here.
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True


def _uvicorn_config(host: str, port: int, config: SimConfig) -> uvicorn.Config:
    fast = importlib.util.find_spec("uvloop") is not None
    http = importlib.util.find_spec("httptools") is not None
    return uvicorn.Config(
        build_app(config),
        host=host,
        port=port,
        loop="uvloop" if fast else "asyncio",
        http="httptools" if http else "h11",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        lifespan="off",
    )


def serve(host: str, port: int, config: SimConfig) -> None:
    """Serve until SIGINT/SIGTERM."""
    _Server(_uvicorn_config(host, port, config)).run()


class RunningSimulator:
    """A simulator served from a daemon thread of this process."""

    def __init__(self, host: str, port: int, config: SimConfig) -> None:
        self.base_url = f"http://{host}:{port}/v1"
        self.root_url = f"http://{host}:{port}"
        self._server = _Server(_uvicorn_config(host, port, config))
        self._thread = threading.Thread(
            target=self._server.run, name="paceline-simulator", daemon=True
        )

    def start(self, timeout_s: float = 10.0) -> RunningSimulator:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout_s)


def start_in_thread(host: str, port: int, config: SimConfig) -> RunningSimulator:
    return RunningSimulator(host, port, config).start()


def command(host: str, port: int, config: SimConfig) -> list[str]:
    """The argv of a `paceline simulator` child process with this configuration."""
    # `-m shared.cli.cmd_simulator` is the same command without every other CLI module.
    argv = [sys.executable, "-m", "shared.cli.cmd_simulator", "--host", host, "--port", str(port)]
    for name, value in config.to_json().items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv
