"""Everything a worker needs, built once per process from the settings (no import-time globals).

The agent is built here too, from the same parts: the provider circuit is both the agent's
breaker and an admission gate (one object, so admission parks tickets exactly while the agent
would refuse to call), and every provider response feeds the rate-limit gate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from redis import Redis

from shared.clock import Clock, SystemClock
from shared.connectors import Connector, ConnectorCaller, ConnectorDirectory
from shared.keys import Keys
from shared.knowledge import IndexCache, KnowledgeStore, Searcher, build_embedder
from shared.ledger import Ledger
from shared.metrics import Metrics
from shared.outbound import OutboundClient
from shared.pricing import PriceTable
from shared.redis_client import make_redis
from shared.settings import Settings, price_table
from shared.stores.budget_pause import BudgetPause
from shared.stores.circuit import ProviderCircuit
from shared.stores.dead_letters import DeadLetter, DeadLetterRegistry
from shared.stores.demand import DemandStore
from shared.stores.outcomes import OutcomeStore
from shared.stores.parking import ParkingLot
from shared.stores.provider_limits import ProviderLimits
from shared.telemetry import report_dead_letter
from shared.tenants import TenantRegistry, install, load_tenants
from workers.admission.gates import Gate
from workers.admission.releases import PendingReleases
from workers.admission.slo import SloPolicy
from workers.agent.llm import LLMClient
from workers.agent.runner import Agent
from workers.agent.tools import ToolBox
from workers.call_records import CallRecords
from workers.replies.sender import ReplySender


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
    # Replies (callbacks, vendor notes) go out through the outbound guard only.
    http: OutboundClient
    releases: PendingReleases
    circuit: ProviderCircuit
    limits: ProviderLimits
    replies: ReplySender
    # Admission's gates that are not money (the budget kill switch, the provider circuit and
    # rate limits), read in the admit's round trip.
    gates: tuple[Gate, ...]
    # Every tenant's help centre, as this process last loaded it (refreshed on import).
    knowledge: Searcher
    # Live demand (the forecast's input) and the live lane's first-response SLO.
    demand: DemandStore
    slo: SloPolicy
    # The tenants file as last loaded (re-read when it changes: shared/tenants/registry.py).
    tenants: TenantRegistry
    # One Sentry event per dead letter (a no-op while Sentry is off).
    report_dead_letter: Callable[[DeadLetter], object] = report_dead_letter
    agent: Agent | None = None
    # Off only for the observability benchmark's baseline.
    observe: bool = True
    metrics: Metrics | None = None

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
        http = OutboundClient(allow_private=settings.allow_private_networks)
        circuit = ProviderCircuit(client, keys, settings, clock)
        limits = ProviderLimits(client, keys, clock)
        prices = price_table(settings)
        knowledge = build_knowledge(settings, client, keys, clock, prices)
        tenants = TenantRegistry(
            load_tenants(settings, prices=prices),
            settings.tenants_file,
            prices=prices,
            allow_private=settings.allow_private_networks,
        )
        install(tenants)
        ctx = cls(
            settings=settings,
            clock=clock,
            redis=client,
            keys=keys,
            ledger=ledger,
            outcomes=OutcomeStore(client, keys, settings.outcome_retention_s),
            parking=ParkingLot(client, keys),
            dead_letters=DeadLetterRegistry(client, keys, clock),
            prices=prices,
            http=http,
            releases=PendingReleases(ledger),
            circuit=circuit,
            limits=limits,
            replies=ReplySender(settings, client, keys, http, clock, tenants),
            gates=(BudgetPause(client, keys, clock), circuit, limits),
            knowledge=knowledge,
            demand=DemandStore(client, keys, settings.tz),
            slo=SloPolicy.from_settings(settings),
            tenants=tenants,
        )
        if with_agent:
            # Every tenant's webhook, connector and vendor secrets join the settings' in the
            # reply check (a reload's new ones join them: `Agent.reply_check`). Connectors
            # follow the file too: the directory re-indexes when the registry reloads it.
            loaded = tenants.current()
            caller = ConnectorCaller(http, clock)
            connectors = ConnectorDirectory(
                loaded.connectors,
                caller,
                ctx.connector_called,
                reload=lambda: _connectors_now(tenants),
            )
            secrets = loaded.secret_values()
            ctx.agent = build_agent(
                settings,
                clock,
                prices,
                circuit,
                limits,
                ctx.usage_missing,
                knowledge,
                secrets=secrets,
                connectors=connectors,
                tenants=tenants,
                ledger=ledger,
            )
        return ctx

    def usage_missing(self, model: str) -> None:
        """A provider answer without usable usage (the agent billed it at its worst case)."""
        # The worker's metrics are set after its agent is built: read at call time.
        if self.metrics is not None:
            self.metrics.usage_was_missing(model)

    def connector_called(self, tenant: str, connector: str, code: str) -> None:
        """One tenant connector call's result, counted (names and codes only, no data)."""
        if self.metrics is not None:
            self.metrics.connector_call(tenant=tenant, connector=connector, code=code)

    def now_ms(self) -> int:
        return int(self.clock.now_s() * 1000)

    def close(self) -> None:
        self.releases.close()
        self.ledger.close()
        self.http.close()
        if self.agent is not None:
            self.agent.close()
        self.knowledge.close()
        self.redis.close()


def build_agent(
    settings: Settings,
    clock: Clock,
    prices: PriceTable,
    circuit: ProviderCircuit,
    limits: ProviderLimits,
    on_usage_missing: Callable[[str], None] | None = None,
    knowledge: Searcher | None = None,
    *,
    secrets: Sequence[str] = (),
    connectors: ConnectorDirectory | None = None,
    tenants: TenantRegistry | None = None,
    ledger: Ledger | None = None,
) -> Agent:
    """One agent per worker process (shared by its threads): one LLM client, one tool box
    (its connectors send through the worker's outbound guard). After every model call its
    settle, the circuit's record and the response's rate-limit headers (the provider-limits
    gate keeps admissions under the provider's tokens and requests per minute) go to Redis in
    one round trip."""
    return Agent(
        settings=settings,
        llm=LLMClient(settings),
        prices=prices,
        clock=clock,
        tools=ToolBox(knowledge=knowledge, connectors=connectors),
        circuit=circuit,
        on_usage_missing=on_usage_missing,
        secrets=secrets,
        tenants=tenants,
        hooks=CallRecords(circuit, limits, ledger),
    )


def build_knowledge(
    settings: Settings, client: Redis, keys: Keys, clock: Clock, prices: PriceTable
) -> Searcher:
    """The process's searcher over every tenant's help centre in Redis; the embedder (and
    its model) loads on the first search that needs it."""
    cache = IndexCache(KnowledgeStore(client, keys), clock, settings.knowledge_refresh_s)
    return Searcher(cache, build_embedder(settings), prices)


def _connectors_now(tenants: TenantRegistry) -> tuple[int, Mapping[str, Sequence[Connector]]]:
    loaded = tenants.current()  # may reload the file (at most once per check interval)
    return tenants.version, loaded.connectors
