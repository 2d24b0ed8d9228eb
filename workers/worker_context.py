"""Everything a worker needs, built once per process from the settings (no import-time globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dramatiq
import httpx
from redis import Redis

from shared.clock import Clock, SystemClock
from shared.keys import Keys
from shared.ledger import Ledger
from shared.pricing import PriceTable
from shared.redis_client import make_redis
from shared.settings import Settings
from shared.stores.circuit import ProviderCircuit
from shared.stores.dead_letters import DeadLetterRegistry
from shared.stores.outcomes import OutcomeStore
from shared.stores.parking import ParkingLot
from workers.admission.releases import PendingReleases

if TYPE_CHECKING:
    from workers.agent.runner import Agent


@dataclass
class WorkerContext:
    settings: Settings
    clock: Clock
    redis: Redis
    keys: Keys
    ledger: Ledger
    outcomes: OutcomeStore
    parking: ParkingLot
    dead_letters: DeadLetterRegistry
    prices: PriceTable
    http: httpx.Client
    releases: PendingReleases
    agent: Agent | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        client: Redis | None = None,
        with_agent: bool = True,
        threads: int | None = None,
    ) -> WorkerContext:
        clock = clock or SystemClock()
        # A few connections per thread (ledger, outcomes, parking, reply marker) plus the
        # middleware's; the pool blocks rather than fails when they are all in use.
        threads = threads or settings.worker_threads
        client = client or make_redis(settings, max_connections=threads * 4 + 16)
        keys = Keys(settings.namespace)
        ledger = Ledger(client, keys, settings, clock)
        ctx = cls(
            settings=settings,
            clock=clock,
            redis=client,
            keys=keys,
            ledger=ledger,
            outcomes=OutcomeStore(client, keys),
            parking=ParkingLot(client, keys),
            dead_letters=DeadLetterRegistry(client, keys),
            prices=PriceTable.load(settings.pricing_file),
            http=httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0)),
            releases=PendingReleases(ledger),
        )
        ctx.extras["deliver_reply"] = _reply_sender(ctx)
        # The provider circuit: the agent's CircuitHook and an admission gate (one object, so
        # admission parks tickets exactly while the agent would refuse to call).
        circuit = ProviderCircuit(client, keys, settings, clock)
        ctx.extras["circuit"] = circuit
        ctx.extras.setdefault("gates", []).append(circuit)
        if with_agent:
            from workers.agent_factory import build_agent

            ctx.agent = build_agent(ctx)
        return ctx

    def now_ms(self) -> int:
        return int(self.clock.now_s() * 1000)

    def close(self) -> None:
        self.releases.close()
        self.ledger.close()
        self.http.close()
        if self.agent is not None:
            self.agent.close()
        self.redis.close()


def _reply_sender(ctx: WorkerContext) -> Any:
    from workers.replies.deliver import deliver_reply

    def send(ticket: Any, outcome_doc: dict[str, Any]) -> str:
        return deliver_reply(
            ticket,
            outcome_doc,
            settings=ctx.settings,
            redis_client=ctx.redis,
            keys=ctx.keys,
            http=ctx.http,
        )

    return send


def requeue(broker: dramatiq.Broker, message: dramatiq.Message[Any]) -> None:
    broker.enqueue(message)
