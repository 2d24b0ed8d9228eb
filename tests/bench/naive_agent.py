"""The overhead benchmark's baseline: a naive agent on plain dramatiq and the openai SDK.

What anyone would write first: one dramatiq actor on a default RedisBroker that loops the SDK
over the same tool schemas, running the same tool code (paceline's ToolBox, bound to the
ticket, with the tenant's data connectors from the same tenants file) until `send_reply`.
No budget, no admission, no guard, no outcome store, no metrics:
the only write besides dramatiq's own is one counter per finished ticket, which the benchmark
reads to know the batch is done. Same worker shape as `paceline worker`: N spawned processes,
each a dramatiq Worker with T threads.

Run: python -m tests.bench.naive_agent --processes 2 --threads 16 (settings from PACELINE_*).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import signal
import threading
from typing import Any

DONE_KEY = "naive:done"
QUEUE = "naive_tickets"
MAX_STEPS = 8


def build(
    namespace: str, redis_url: str, base_url: str, api_key: str, tenants_file: str | None
) -> Any:
    """The broker with its actor, and what the actor needs (one set per process)."""
    import dramatiq
    import openai
    import redis
    from dramatiq.brokers.redis import RedisBroker

    from shared.clock import SystemClock
    from shared.connectors import ConnectorCaller, ConnectorDirectory
    from shared.keys import Keys
    from shared.models import Ticket
    from shared.outbound import OutboundClient
    from shared.settings import load_settings, price_table
    from shared.tenants import load_tenants
    from workers.agent.prompt import first_messages
    from workers.agent.tools import ToolBox
    from workers.worker_context import build_knowledge

    env = {"PACELINE_REDIS_URL": redis_url, "PACELINE_NAMESPACE": namespace,
           "PACELINE_LLM_BASE_URL": base_url, "PACELINE_LLM_API_KEY": api_key,
           "PACELINE_ALLOW_PRIVATE_NETWORKS": "true"}  # fmt: skip
    if tenants_file:
        env["PACELINE_TENANTS_FILE"] = tenants_file
    settings = load_settings(env)
    client = redis.Redis.from_url(redis_url)
    keys = Keys(namespace)
    prices = price_table(settings)
    knowledge = build_knowledge(settings, client, keys, SystemClock(), prices)
    # The same connector code the worker runs: the tenants file's connectors, called through
    # the outbound guard, as a tool of the ticket's tenant only.
    http = OutboundClient(allow_private=settings.allow_private_networks)
    loaded = load_tenants(settings, prices=prices)
    connectors = ConnectorDirectory(loaded.connectors, ConnectorCaller(http, SystemClock()))
    tools = ToolBox(knowledge=knowledge, connectors=connectors)
    sdk = openai.OpenAI(base_url=base_url, api_key=api_key)
    broker = RedisBroker(url=redis_url, namespace=f"{namespace}-naive")
    done_key = f"{namespace}:{DONE_KEY}"

    def naive_ticket(doc: dict[str, Any]) -> None:
        ticket = Ticket.model_validate(doc)
        bound = tools.bind(ticket)
        messages: list[Any] = first_messages(ticket, 10_000)
        for _ in range(MAX_STEPS):
            resp = sdk.chat.completions.create(
                model=settings.model, messages=messages, tools=bound.schemas, max_tokens=600,  # type: ignore[arg-type]
            )  # fmt: skip
            msg = resp.choices[0].message
            if not msg.tool_calls:
                break
            messages.append(msg.model_dump(exclude_none=True))
            outcome = None
            for call in msg.tool_calls:
                outcome = bound.execute(call.function.name, call.function.arguments)  # type: ignore[union-attr]
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": outcome.content}
                )
            if outcome is not None and (outcome.reply is not None or outcome.escalation):
                break
        client.incr(done_key)

    actor = dramatiq.actor(naive_ticket, broker=broker, queue_name=QUEUE, max_retries=0)
    return broker, actor


def _child(
    namespace: str, redis_url: str, base_url: str, api_key: str, tenants: str | None, threads: int
) -> None:
    import dramatiq

    broker, _ = build(namespace, redis_url, base_url, api_key, tenants)
    worker = dramatiq.Worker(broker, worker_threads=threads)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.start()
    stop.wait()
    worker.stop()
    broker.close()


def main() -> None:
    import os

    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    conf = (
        os.environ["PACELINE_NAMESPACE"],
        os.environ.get("PACELINE_REDIS_URL", "redis://127.0.0.1:6379/0"),
        os.environ["PACELINE_LLM_BASE_URL"],
        os.environ["PACELINE_LLM_API_KEY"],
        os.environ.get("PACELINE_TENANTS_FILE"),
    )
    spawn = mp.get_context("spawn")
    children = [
        spawn.Process(target=_child, args=(*conf, args.threads)) for _ in range(args.processes)
    ]
    for child in children:
        child.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()


def send_batch(namespace: str, redis_url: str, docs: list[dict[str, Any]]) -> None:
    """Enqueue the batch as a naive producer would: one `send` per ticket."""
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=redis_url, namespace=f"{namespace}-naive")
    broker.declare_queue(QUEUE)
    try:
        for doc in docs:
            broker.enqueue(dramatiq.Message(QUEUE, "naive_ticket", (doc,), {}, {}))
    finally:
        broker.close()


if __name__ == "__main__":
    main()
