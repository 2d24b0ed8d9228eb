"""`PACELINE_EMBEDDING_MODEL`: the provider's embeddings (the simulator over real HTTP), priced
from the price table. An import is charged to the day's books under `kb:<tenant>` and refused,
with its estimate, past what is left of the ceiling; a ticket's query embedding is drawn from
the ticket's own reservation like any other call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from shared.clock import ManualClock
from shared.errors import ImportOverBudget
from shared.keys import Keys
from shared.knowledge import Importer, IndexCache, KnowledgeStore, Searcher
from shared.knowledge.embed import ProviderEmbedder, estimate_tokens, section_texts
from shared.knowledge.importers import read_source
from shared.knowledge.spend import KnowledgeSpend
from shared.ledger import AdmissionRequest, Candidate, Ledger, ReservationBudget
from shared.money import fmt_usd
from shared.pricing import PriceTable
from shared.redis_client import make_redis
from shared.settings import Settings
from tests.conftest import SimulatorProcess, make_settings
from tests.shared.knowledge.conftest import DEMO_KB

MODEL = "text-embedding-3-small"
# $1,000 per 1M tokens: a thousand micro-dollars a token, so the figures are easy to check.
PRICE_MICROS_PER_TOKEN = 1_000


@pytest.fixture
def provider(
    namespace: str, simulator: SimulatorProcess, tmp_path: Path
) -> Iterator[tuple[Settings, redis.Redis]]:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({MODEL: {"input": 1000, "output": 0}}))
    settings = make_settings(
        namespace,
        llm_base_url=simulator.base_url,
        llm_api_key="sk-test",
        embedding_model=MODEL,
        pricing_file=prices,
        daily_ceiling_usd=100,
    )
    client = make_redis(settings, max_connections=4)
    yield settings, client
    client.close()


def parts(
    settings: Settings, client: redis.Redis, clock: ManualClock
) -> tuple[Importer, Searcher, ProviderEmbedder, PriceTable]:
    keys = Keys(settings.namespace)
    store = KnowledgeStore(client, keys)
    embedder = ProviderEmbedder(settings, MODEL)
    prices = PriceTable.load(settings.pricing_file)
    importer = Importer(
        store, embedder, prices=prices,
        spend=lambda tenant: KnowledgeSpend(client, keys, settings, clock, tenant),
    )  # fmt: skip
    return importer, Searcher(IndexCache(store, clock, 0.0), embedder, prices), embedder, prices


def test_an_import_is_priced_and_charged_under_its_own_scope(
    provider: tuple[Settings, redis.Redis],
) -> None:
    settings, client = provider
    clock = ManualClock()
    importer, _, embedder, _ = parts(settings, client, clock)
    parsed = read_source(str(DEMO_KB))
    texts = [t for a in parsed.articles for t in section_texts(a)]
    # When the demo help centre is imported with the provider's embeddings
    summary = importer.run("acme", parsed)
    embedder.close()
    # Then what the simulator billed (a token per 4 bytes) is what the books hold, under
    # global and kb:acme, and the estimate (a token per byte) was at least that
    billed = sum(-(-len(t.encode()) // 4) for t in texts) * PRICE_MICROS_PER_TOKEN
    assert summary.cost_micros == billed
    assert summary.estimate_micros == estimate_tokens(texts) * PRICE_MICROS_PER_TOKEN >= billed
    ledger = Ledger(client, Keys(settings.namespace), settings, clock)
    assert ledger.spent("kb:acme") == billed and ledger.spent("global") == billed
    assert ledger.spent("tenant:acme") == 0  # a scope of its own, not the tenant's tickets
    # And re-importing the same articles embeds (and pays for) nothing
    again = importer.run("acme", read_source(str(DEMO_KB)))
    assert again.cost_micros == 0 and ledger.spent("kb:acme") == billed


def test_an_import_past_the_ceiling_is_refused_with_its_estimate(
    provider: tuple[Settings, redis.Redis],
) -> None:
    settings, client = provider
    clock = ManualClock()
    keys = Keys(settings.namespace)
    client.hset(keys.caps, "global", 1_000_000)  # $1 left today; the import needs far more
    importer, _, embedder, _ = parts(settings, client, clock)
    with pytest.raises(ImportOverBudget) as refused:
        importer.run("acme", read_source(str(DEMO_KB)))
    embedder.close()
    assert refused.value.left_micros == 1_000_000
    assert refused.value.estimate_micros > 1_000_000
    assert str(refused.value) == (
        f"import refused: embedding 35 sections with {MODEL} may cost up to "
        f"{fmt_usd(refused.value.estimate_micros)}, and only $1.0000 is left of today's ceiling"
    )
    ledger = Ledger(client, keys, settings, clock)
    assert (
        ledger.spent("global") == 0 and KnowledgeStore(client, keys).current_version("acme") is None
    )


def test_a_ticket_query_is_drawn_from_its_reservation(
    provider: tuple[Settings, redis.Redis],
) -> None:
    settings, client = provider
    clock = ManualClock()
    importer, searcher, embedder, _prices = parts(settings, client, clock)
    importer.run("acme", read_source(str(DEMO_KB)))
    ledger = Ledger(client, Keys(settings.namespace), settings, clock)
    spent_before = ledger.spent("global")
    # Given a ticket admitted with a reservation
    decision = ledger.admit(
        AdmissionRequest(
            "generic:T-1:evt-1",
            "acme",
            "u-1",
            "live",
            [Candidate("gpt-4o-mini", 2_000_000, 100_000)],
        )
    )
    assert decision.kind == "admit" and decision.reservation_id
    budget = ReservationBudget(ledger, decision.reservation_id, decision.grant_micros)
    # When the ticket's search embeds its query
    query = "how do i reset my password"
    hits = searcher.search("acme", query, 3, budget=budget)
    embedder.close()
    # Then the call was drawn from and settled on the reservation at the provider's price
    assert hits and hits[0].id == "password-reset"
    held = ledger.reservation(decision.reservation_id)
    settled = {k: v for k, v in held.items() if k.startswith("s:")}
    cost = -(-len(query.encode()) // 4) * PRICE_MICROS_PER_TOKEN
    assert list(settled.values()) == [str(cost)] and int(held["taken"]) == cost
    assert ledger.spent("tenant:acme") == cost and ledger.spent("global") == spent_before + cost


def test_without_money_for_the_query_the_search_is_lexical(
    provider: tuple[Settings, redis.Redis],
) -> None:
    settings, client = provider
    clock = ManualClock()
    importer, searcher, embedder, _ = parts(settings, client, clock)
    importer.run("acme", read_source(str(DEMO_KB)))
    ledger = Ledger(client, Keys(settings.namespace), settings, clock)
    decision = ledger.admit(
        AdmissionRequest(
            "generic:T-2:evt-2", "acme", "u-1", "live", [Candidate("gpt-4o-mini", 1_000, 1_000)]
        )
    )
    assert decision.reservation_id
    budget = ReservationBudget(ledger, decision.reservation_id, decision.grant_micros)
    hits = searcher.search("acme", "password reset link", 3, budget=budget)
    embedder.close()
    assert hits and hits[0].id == "password-reset"  # the lexical half still answers
    assert not [k for k in ledger.reservation(decision.reservation_id) if k.startswith("s:")]
    # No budget at all (no ticket): lexical too, nothing charged
    assert searcher.search("acme", "password reset link", 3)[0].id == "password-reset"
