"""`paceline forget --tenant T --requester R`: erase a requester's transcripts and personal
data from the database and Redis, keep what they cost under a keyed hash of their id.

In the database, in one transaction: the requester is marked forgotten (by keyed hash only,
so facts about them still in the stream are stored pseudonymised when they arrive), their
cost rows, outcomes and dead letters take the pseudonym, and the transcripts of their tickets
(their messages, the replies to them) are erased. In Redis: their stored outcomes lose the
reply and take the pseudonym, and their dead letters (which hold the ticket, email and text
included) are deleted, and so are the archiver's set-aside entries (`history:rejects`) that
name them. Tickets still queued or parked are work in flight and are left alone;
the ledger's per-requester books expire with their day (8 days).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, cast

import redis
from sqlalchemy import Engine, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from shared.errors import DatabaseUnavailable
from shared.history.privacy import pseudonym
from shared.history.schema import (
    dead_letters,
    forgotten_requesters,
    model_calls,
    thread_messages,
    ticket_outcomes,
)
from shared.history.writer import FORGET_LOCK_KEY, first_line
from shared.keys import Keys
from shared.stores.dead_letters import DeadLetterRegistry
from shared.stores.outcomes import OutcomeStore

# Rewrites an outcome's doc only if the ticket's hash still exists (never recreates it).
_REWRITE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'doc', ARGV[1])
return 1
"""


@dataclass(frozen=True)
class Forgotten:
    pseudonym: str
    cost_rows: int
    outcomes: int
    messages_erased: int
    dead_letters: int
    redis_outcomes: int
    redis_dead_letters: int
    redis_rejects: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def forget_in_database(
    engine: Engine, key: bytes, tenant: str, requester: str, now_ms: int
) -> tuple[str, int, int, int, int]:
    """(pseudonym, cost rows, outcomes, messages erased, dead letters) rewritten."""
    alias = pseudonym(key, tenant, requester)
    c, o, m, d = model_calls, ticket_outcomes, thread_messages, dead_letters
    try:
        with engine.begin() as conn:
            pg = conn.dialect.name == "postgresql"
            if pg:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FORGET_LOCK_KEY})
            ins = (postgresql.insert if pg else sqlite.insert)(forgotten_requesters)
            conn.execute(
                ins.on_conflict_do_nothing(index_elements=["tenant_id", "pseudonym"]),
                {"tenant_id": tenant, "pseudonym": alias, "forgotten_at_ms": now_ms},
            )
            theirs = select(o.c.ticket_id).where(
                o.c.tenant_id == tenant, o.c.requester.in_((requester, alias))
            )
            erased = conn.execute(
                update(m)
                .where(m.c.tenant_id == tenant)
                .where((m.c.ticket_id.in_(theirs)) | (m.c.author == requester))
                .values(body=None)
            ).rowcount
            conn.execute(
                update(m)
                .where(m.c.tenant_id == tenant, m.c.author == requester)
                .values(author=alias)
            )
            counts = [
                conn.execute(
                    update(t)
                    .where(t.c.tenant_id == tenant, t.c.requester == requester)
                    .values(requester=alias, **extra)
                ).rowcount
                for t, extra in ((c, {}), (o, {"reply": None}), (d, {}))
            ]
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(first_line(exc)) from exc
    return alias, counts[0], counts[1], int(erased), counts[2]


def forget_in_redis(
    client: redis.Redis, keys: Keys, tenant: str, requester: str, alias: str
) -> int:
    """Stored outcomes of the requester: the reply erased, the requester pseudonymised, and
    the ticket's conversation thread (their words and the answers) deleted."""
    store = OutcomeStore(client, keys)
    rewrite = client.register_script(_REWRITE)
    changed = 0
    for key, outcome in store.iter_stored():
        if outcome.tenant_id != tenant or outcome.requester_id != requester:
            continue
        doc = outcome.model_copy(update={"requester_id": alias, "reply": None})
        changed += int(cast(int, rewrite(keys=[keys.ticket(key)], args=[doc.model_dump_json()])))
        client.delete(keys.thread(key))
    return changed


def forget(
    engine: Engine,
    client: redis.Redis,
    keys: Keys,
    *,
    key: bytes,
    tenant: str,
    requester: str,
    now_ms: int,
) -> Forgotten:
    """The database first (a database that does not answer stops it before Redis changes),
    then Redis."""
    alias, calls, outcomes, messages, dlq = forget_in_database(
        engine, key, tenant, requester, now_ms
    )
    redis_outcomes = forget_in_redis(client, keys, tenant, requester, alias)
    redis_dlq = erase_dead_letters(client, keys, tenant, requester)
    rejects = erase_rejects(client, keys, tenant, requester)
    return Forgotten(alias, calls, outcomes, messages, dlq, redis_outcomes, redis_dlq, rejects)


def erase_dead_letters(client: redis.Redis, keys: Keys, tenant: str, requester: str) -> int:
    """Delete the requester's dead letters (and dramatiq's copies): they hold the ticket."""
    registry = DeadLetterRegistry(client, keys)
    theirs = [
        entry
        for entry in registry.iter_entries()
        if entry.tenant_id == tenant
        and isinstance(entry.ticket.get("requester"), dict)
        and str(entry.ticket["requester"].get("id")) == requester
    ]
    return sum(registry.claim(entry, "forgotten") for entry in theirs)


def _names(value: Any, tenant: str, requester: str) -> bool:
    """Whether a history entry's fields (or the JSON documents inside them) belong to the
    requester: a `tenant`/`tenant_id` and a `requester`/`requester_id`/`requester.id` that
    match, at any depth."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return False
    if isinstance(value, list):
        return any(_names(v, tenant, requester) for v in value)
    if not isinstance(value, dict):
        return False
    owner = value.get("tenant", value.get("tenant_id"))
    who = value.get("requester", value.get("requester_id"))
    if isinstance(who, dict):
        who = who.get("id")
    if owner == tenant and who is not None and str(who) == requester:
        return True
    return any(_names(v, tenant, requester) for v in value.values())


def erase_rejects(client: redis.Redis, keys: Keys, tenant: str, requester: str) -> int:
    """Delete the requester's entries from the archiver's set-aside list: an entry it could not
    store still holds what the stream held (an outcome's reply, a thread's messages). An entry
    too broken to read is kept when it does not name both the tenant and the requester."""
    raw = cast(list[Any], client.lrange(keys.history_rejects, 0, -1))
    erased = 0
    for item in raw:
        text_ = item.decode() if isinstance(item, bytes) else str(item)
        try:
            fields = json.loads(text_).get("fields")
        except (ValueError, AttributeError):
            continue  # not an entry the archiver wrote
        if _names(fields, tenant, requester) or (
            # Fields too broken to parse: their words must name both.
            not _parses(fields) and f'"{tenant}"' in text_ and requester in text_
        ):
            erased += int(client.lrem(keys.history_rejects, 0, item))
    return erased


def _parses(fields: Any) -> bool:
    if not isinstance(fields, dict):
        return False
    for value in fields.values():
        if isinstance(value, str) and value[:1] in "{[":
            try:
                json.loads(value)
            except ValueError:
                return False
    return True
