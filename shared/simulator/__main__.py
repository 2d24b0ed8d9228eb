"""`python -m shared.simulator --port P …`: the simulator without the rest of the CLI."""

from __future__ import annotations

import typer

from shared.cli.cmd_simulator import simulator

if __name__ == "__main__":
    typer.run(simulator)
