"""`paceline up [--demo]`: the whole local stack; with --demo, the bundled history through it."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Annotated

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.cli.signals import stop_event
from shared.cli.stack import Stack, free_port
from shared.demo_store.tenants import write as write_demo_tenants
from shared.errors import StackError
from shared.settings import Settings

SIM_KEY = "sk-sim-local"
# The demo's resolution window (7.2 s): long enough for a scripted follow-up to arrive.
DEMO_RESOLUTION_WINDOW_H = "0.002"


def register(app: typer.Typer) -> None:
    @app.command()
    def up(
        demo: Annotated[
            bool, typer.Option(help="Feed the bundled sample, summarise, exit.")
        ] = False,
        port: Annotated[int, typer.Option(help="Webhook port (0: any free port).")] = 8080,
        threads: Annotated[int, typer.Option(min=1, max=256, help="Worker threads.")] = 16,
        timeout_s: Annotated[float, typer.Option(help="Demo: give up after this long.")] = 600,
        as_json: Annotated[
            bool, typer.Option("--json", help="Demo: print the summary as JSON.")
        ] = False,
    ) -> None:
        """Run simulator (unless PACELINE_LLM_BASE_URL is set), webhook app, worker, scheduler."""
        settings = settings_or_exit()
        stack = Stack()
        stop = stop_event()
        try:
            redis_url = _redis(stack, settings)
            namespace = f"{settings.namespace}-demo" if demo else settings.namespace
            env = stack.env
            env.update(
                {
                    "PACELINE_REDIS_URL": redis_url,
                    "PACELINE_NAMESPACE": namespace,
                    "PACELINE_WORKER_THREADS": str(threads),
                    # One machine: its processes' metrics stay on it.
                    "PACELINE_METRICS_HOST": "127.0.0.1",
                }
            )
            if demo:
                _clear_namespace(redis_url, namespace)
                # A single-machine demo: every part of it is on loopback.
                env["PACELINE_ALLOW_PRIVATE_NETWORKS"] = "true"
                # Answers nobody writes back to resolve within the demo, not a day later.
                env.setdefault("PACELINE_RESOLUTION_WINDOW_H", DEMO_RESOLUTION_WINDOW_H)
            sim_url = None
            # The demo's order system is served by the simulator: a demo starts one even
            # when the model is a real provider.
            if not settings.llm_base_url or demo:
                sim_port = free_port()
                stack.start_paceline(
                    "simulator",
                    "simulator",
                    "--port",
                    str(sim_port),
                    "--seed",
                    "1",
                    ready_url=f"http://127.0.0.1:{sim_port}/v1/models",
                )
                sim_url = f"http://127.0.0.1:{sim_port}"
                if not settings.llm_base_url:
                    env["PACELINE_LLM_BASE_URL"] = f"{sim_url}/v1"
                    env.setdefault("PACELINE_LLM_API_KEY", SIM_KEY)
            if demo and sim_url is not None:
                _import_demo_help_centre(env)
                # The demo tenants, their connectors on the simulator's sample order system.
                tenants_file = Path(stack.logs_dir) / "demo-tenants.toml"
                env["PACELINE_TENANTS_FILE"] = str(write_demo_tenants(sim_url, tenants_file))
            made: dict[str, str] = {}
            secret = settings.webhook_secret("generic")
            secret_text = (
                secret.decode()
                if secret
                else made.setdefault("PACELINE_WEBHOOK_SECRET_GENERIC", secrets.token_hex(16))
            )
            env["PACELINE_WEBHOOK_SECRET_GENERIC"] = secret_text
            ops = settings.ops_token.get_secret_value() if settings.ops_token else None
            ops_token = ops or made.setdefault("PACELINE_OPS_TOKEN", secrets.token_hex(16))
            env["PACELINE_OPS_TOKEN"] = ops_token
            web_port = free_port() if (demo or port == 0) else port
            stack.start_paceline(
                "webhook",
                "webhook",
                "--host",
                "127.0.0.1",
                "--port",
                str(web_port),
                ready_url=f"http://127.0.0.1:{web_port}/readyz",
            )
            stack.start_paceline("worker", "worker", "--threads", str(threads))
            stack.start_paceline("scheduler", "scheduler")
            if _history_installed():
                # PACELINE_DATABASE_URL, or the SQLite file under .paceline/ by default.
                stack.start_paceline("archiver", "archive")
            else:
                typer.echo(
                    "paceline: spend history off: install the history extra "
                    "(pip install 'paceline[history]') to archive it",
                    err=True,
                )
            webhook_url = f"http://127.0.0.1:{web_port}"
            for line in start_lines(
                namespace=namespace,
                webhook_url=webhook_url,
                sim_url=sim_url,
                made=made,
                ops_token=ops_token,
                redis_url=redis_url if redis_url != settings.redis_url else None,
                logs_dir=stack.logs_dir,
            ):
                typer.echo(line, err=True)
            if demo:
                _run_demo(stack, webhook_url, secret_text, redis_url, namespace, timeout_s, as_json)
            else:
                while not stop.wait(0.5):
                    dead = stack.check_alive()
                    if dead:
                        fail(f"{dead} stopped; see {stack.logs_dir}/{dead}.log", Exit.FAILED)
        except StackError as exc:
            fail(str(exc), Exit.UNAVAILABLE)
        finally:
            stack.stop()


def _history_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("sqlalchemy", "alembic"))


def _redis(stack: Stack, settings: Settings) -> str:
    """The Redis the stack runs on. A PACELINE_REDIS_URL that is set must answer: every other
    command reads it too, so a private server in its place would split the two. Unset, the
    default answers or a private redis-server starts (and its URL is printed to export)."""
    from shared.cli.stack import redis_answers

    if "redis_url" in settings.model_fields_set:
        if not redis_answers(settings.redis_url):
            fail(
                f"PACELINE_REDIS_URL={mask_url(settings.redis_url)} does not answer; start that "
                "Redis, or unset PACELINE_REDIS_URL to let paceline up start a private one",
                Exit.UNAVAILABLE,
            )
        return settings.redis_url
    return stack.ensure_redis(settings.redis_url)


def start_lines(
    *,
    namespace: str,
    webhook_url: str,
    sim_url: str | None,
    made: dict[str, str],
    ops_token: str,
    redis_url: str | None,
    logs_dir: str,
) -> list[str]:
    """What an operator needs to use the stack from another terminal, one item a line."""
    lines = [f"paceline: stack up (namespace {namespace}, logs {logs_dir})"]
    lines.append(f"  webhooks   {webhook_url}/webhooks/<source>   (try: paceline send --example)")
    for name, value in made.items():
        lines.append(f"  generated  export {name}={value}")
    if redis_url is not None:
        lines.append(
            f"  redis      export PACELINE_REDIS_URL={redis_url}   (a private redis-server)"
        )
    if sim_url is not None:
        lines.append(f"  simulator  {sim_url}/v1   faults: POST {sim_url}/_sim/faults")
    ops = (
        f"{webhook_url}/ops?token={ops_token}"
        if "PACELINE_OPS_TOKEN" in made
        else (f"{webhook_url}/ops (bearer PACELINE_OPS_TOKEN)")
    )
    lines.append(f"  ops        {ops}")
    return lines


def mask_url(url: str) -> str:
    """A URL with any password replaced, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@")
    return urlunsplit(parts._replace(netloc=netloc))


def _clear_namespace(redis_url: str, namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            client.unlink(key)
    finally:
        client.close()


def _wait_archived(settings: Settings, timeout_s: float = 20) -> None:
    """Let the archiver take what the demo produced before the stack stops (what is left
    stays in the stream for the next archiver: nothing is lost either way)."""
    from shared.keys import Keys
    from shared.redis_client import make_redis

    client = make_redis(settings, max_connections=2)
    stream = Keys(settings.namespace).history_stream
    deadline = time.monotonic() + timeout_s
    try:
        while client.xlen(stream) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        client.close()


def _import_demo_help_centre(env: dict[str, str]) -> None:
    """Each demo tenant's help centre, from the Markdown files in the repository, through
    `paceline kb import`'s own code, with the settings the stack's processes get."""
    from importlib import resources

    from shared.cli.cmd_kb import run_import
    from shared.data import load_sample
    from shared.errors import ImportOverBudget, KnowledgeError, SettingsError
    from shared.settings import load_settings

    folder = resources.files("shared.data") / "demo" / "kb"
    tenants = sorted({str(t["tenant_id"]) for t in load_sample()})
    try:
        settings = load_settings(env)
        for tenant in tenants:
            summary = run_import(settings, str(folder), tenant)
    except (KnowledgeError, ImportOverBudget, SettingsError) as exc:
        fail(f"demo help centre: {exc}", Exit.FAILED)
    articles = len(summary.added) + len(summary.updated) + len(summary.unchanged)
    typer.echo(
        f"paceline: demo help centre imported for {', '.join(tenants)} "
        f"({articles} articles each, from {folder})",
        err=True,
    )


def _run_demo(
    stack: Stack,
    webhook_url: str,
    secret: str,
    redis_url: str,
    namespace: str,
    timeout_s: float,
    as_json: bool,
) -> None:
    from shared.cli.demo import (
        feed,
        play_conversations,
        print_summary,
        resolution_figures,
        summarise,
        wait_for_outcomes,
    )
    from shared.data import conversations_path, load_sample
    from shared.keys import Keys
    from shared.redis_client import make_redis
    from shared.settings import load_settings
    from shared.stores.outcomes import OutcomeStore

    sample = load_sample()
    expect = {str(t["ticket_id"]): str(t["expect"]) for t in sample if "expect" in t}
    started = time.monotonic()
    fed = feed(webhook_url, secret, sample)
    settings = load_settings(
        {
            "PACELINE_REDIS_URL": redis_url,
            "PACELINE_NAMESPACE": namespace,
            "PACELINE_TIMEZONE": stack.env.get("PACELINE_TIMEZONE", "UTC"),
            "PACELINE_RESOLUTION_WINDOW_H": stack.env["PACELINE_RESOLUTION_WINDOW_H"],
        }
    )
    client = make_redis(settings, max_connections=4)
    store = OutcomeStore(client, Keys(namespace))
    counts = wait_for_outcomes(store, len(fed.accepted), timeout_s, stack.check_alive)
    played = play_conversations(webhook_url, secret, store, conversations_path())
    resolved = resolution_figures(client, settings)
    if "archiver" in stack.procs:
        _wait_archived(settings)
    doc = summarise(store, fed, expect, time.monotonic() - started)
    doc.update(resolved)
    doc["conversations"] = len(played)
    doc["conversation_messages"] = sum(p.sent for p in played)
    doc["namespace"] = namespace
    if as_json:
        print_json(doc)
    else:
        print_summary(doc)
    unfinished = counts.get("pending", 0)
    if unfinished:
        fail(f"{unfinished} tickets still pending after {timeout_s:.0f} s", Exit.FAILED)
