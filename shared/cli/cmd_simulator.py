"""`paceline simulator`: the OpenAI-compatible provider simulator, served until Ctrl-C.

`python -m shared.cli.cmd_simulator --port P ...` is the same command without importing every
other CLI module (how the simulator starts its own child processes).
"""

from __future__ import annotations

import typer

from shared.cli.common import Exit, fail
from shared.simulator.config import (
    DEFAULT_RPM,
    DEFAULT_TPM,
    ConfigError,
    Dialect,
    ErrorKind,
    SimConfig,
)

KINDS = ", ".join(k.value for k in ErrorKind)
DIALECTS = "|".join(d.value for d in Dialect)


def simulator(
    port: int = typer.Option(8100, "--port", help="TCP port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    latency_ms: int = typer.Option(0, "--latency-ms", help="Added to every chat completion."),
    error_rate: float = typer.Option(
        0.0, "--error-rate", help="Share of requests that fail, 0..1."
    ),
    error_kind: str = typer.Option("server_error", "--error-kind", help=f"One of: {KINDS}."),
    seed: int = typer.Option(0, "--seed", help="Fixes wording and which requests fail."),
    rpm: int = typer.Option(DEFAULT_RPM, "--rpm", help="Requests per minute before 429."),
    tpm: int = typer.Option(DEFAULT_TPM, "--tpm", help="Tokens per minute before 429."),
    retry_after_ms: int = typer.Option(1000, "--retry-after-ms", help="Retry-After of rate_limit."),
    timeout_s: float = typer.Option(60.0, "--timeout-s", help="How long a `timeout` fault hangs."),
    dialect: str = typer.Option(
        "openai", "--dialect", help=f"Answer as {DIALECTS} does (docs/providers.md)."
    ),
    api_key: str = typer.Option(
        "", "--api-key", help="Refuse requests without this key (Bearer, or Azure's api-key)."
    ),
    deployments: str = typer.Option(
        "", "--deployments", help="Extra model names served: gateway aliases, Azure deployments."
    ),
) -> None:
    """Serve an OpenAI-compatible endpoint with the shared model policy and injectable faults."""
    try:
        config = SimConfig().updated(
            {
                "latency_ms": latency_ms,
                "error_rate": error_rate,
                "error_kind": error_kind,
                "seed": seed,
                "rpm": rpm,
                "tpm": tpm,
                "retry_after_ms": retry_after_ms,
                "timeout_s": timeout_s,
                "dialect": dialect,
                "api_key": api_key,
                "deployments": deployments,
            }
        )
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)
    # Imported here: uvicorn and the app are only needed by this command.
    from shared.simulator.server import serve

    typer.echo(f"paceline simulator ({config.dialect.value}) on http://{host}:{port}/v1", err=True)
    serve(host, port, config)


def register(app: typer.Typer) -> None:
    app.command("simulator")(simulator)


if __name__ == "__main__":
    typer.run(simulator)
