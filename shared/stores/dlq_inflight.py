"""Dead letters being requeued: taken in two phases, so an interrupted requeue loses nothing
and sends nothing twice.

take     -> the entry leaves the index (`dlq:index`) for the in-flight hash (`dlq:inflight`:
            entry id -> the run that took it, the message it will send, the outcome it
            replaced); its JSON stays in `dlq:entries`. One script: of two requeues exactly
            one takes an entry, and a second entry for the same death (the death's marker
            names another entry) is dropped as a duplicate.
finish   -> the entry is removed for good once its message is on the queue. On a Redis broker
            that is this Redis the message is pushed by the same script, so a crash leaves the
            entry either in flight with nothing sent or sent and gone: never both, never
            neither. On another broker (RabbitMQ) the publish is confirmed first, then the
            entry removed; only a kill in the one round trip between the two can leave a sent
            entry in flight, which a recovery then offers again (docs/operations.md).
put back -> an interrupted or failed send gives the entry back to the index.
recover  -> an in-flight entry whose run's lease (`dlq:run:<id>`, renewed every second while
            the run lives) has expired goes back to the index, its outcome back to the dead
            letter it was: the next requeue, and `dlq list`, see it again.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any, cast

import redis

from shared.clock import Clock, now_ms
from shared.keys import TICKET_RETENTION_S, Keys
from shared.lua import lua_source
from shared.models import Outcome, OutcomeStatus
from shared.stores.dead_letters import DeadLetter, DeadLetterRegistry
from shared.stores.outcomes import OutcomeStore

RUN_LEASE_MS = 5_000
RUN_RENEW_S = 1.0
MARKER_TTL_S = 24 * 3600
TAKEN, GONE, DUPLICATE = 1, 0, 2


@dataclass(frozen=True)
class InFlight:
    """One entry in flight: who holds it, the message id it is sent under, the outcome it
    replaced (restored if the entry goes back)."""

    entry_id: str
    run: str
    message_id: str
    taken_ms: int
    outcome: str | None
    marker: str

    def record(self) -> str:
        return json.dumps(
            {
                "run": self.run,
                "message_id": self.message_id,
                "taken_ms": self.taken_ms,
                "outcome": self.outcome,
                "marker": self.marker,
            }
        )

    @classmethod
    def parse(cls, entry_id: str, raw: str) -> InFlight:
        doc = json.loads(raw)
        return cls(
            entry_id,
            str(doc["run"]),
            str(doc["message_id"]),
            int(doc["taken_ms"]),
            doc.get("outcome"),
            str(doc.get("marker", "")),
        )


class RunLease:
    """A requeue run's lease, renewed by a daemon thread while the run lives: its in-flight
    entries are left alone until the lease lapses (a killed run's lapse in seconds)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.run_id = uuid.uuid4().hex[:16]
        self._r = client
        self._key = keys.dlq_run(self.run_id)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="dlq-run-lease", daemon=True)

    def __enter__(self) -> RunLease:
        self._r.set(self._key, "1", px=RUN_LEASE_MS)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self._r.delete(self._key)
        except redis.RedisError:
            pass  # it lapses on its own

    def _renew(self) -> None:
        while not self._stop.wait(RUN_RENEW_S):
            try:
                self._r.set(self._key, "1", px=RUN_LEASE_MS)
            except redis.RedisError:
                continue  # a blip: the next renewal may land before the lease lapses


class InFlightDeadLetters:
    def __init__(
        self, client: redis.Redis, keys: Keys, clock: Clock, retention_s: int = TICKET_RETENTION_S
    ) -> None:
        self._r = client
        self._keys = keys
        self._clock = clock
        self._registry = DeadLetterRegistry(client, keys, clock)
        self._outcomes = OutcomeStore(client, keys, retention_s)
        self._take = client.register_script(lua_source("shared.stores", "dlq_take"))
        self._finish = client.register_script(lua_source("shared.stores", "dlq_finish"))
        self._put_back = client.register_script(lua_source("shared.stores", "dlq_put_back"))

    def take(self, entry: DeadLetter, held: InFlight) -> int:
        """TAKEN, GONE (someone else has it) or DUPLICATE (dropped: another entry of the same
        death was requeued)."""
        k = self._keys
        got = int(
            self._take(
                keys=[k.dlq_index, k.dlq_inflight, k.dlq_entries, held.marker, k.history_stream],
                args=[entry.entry_id, held.record(), MARKER_TTL_S, now_ms(self._clock)],
            )
        )
        if got == DUPLICATE:
            self._registry.drop_dramatiq_copy(entry)
        return got

    def finish(
        self,
        entry: DeadLetter,
        run: str,
        *,
        queue_key: str | None = None,
        redis_message_id: str = "",
        encoded: bytes = b"",
    ) -> bool:
        """Remove a sent entry; with `queue_key` (a Redis broker on this Redis) push its
        message in the same step. False: the run no longer held it, nothing was written."""
        k = self._keys
        script_keys = [k.dlq_inflight, k.dlq_entries, k.history_stream]
        args: list[Any] = [entry.entry_id, run, now_ms(self._clock)]
        if queue_key is not None:
            script_keys += [queue_key, queue_key + ".msgs"]
            args += [redis_message_id, encoded]
        done = bool(self._finish(keys=script_keys, args=args))
        if done:
            self._registry.drop_dramatiq_copy(entry)
        return done

    def put_back(self, entry: DeadLetter, held: InFlight, *, own: bool) -> bool:
        """Give an entry back to the index, then its outcome back to the dead letter it was
        (in that order: only the caller that put it back touches the outcome)."""
        k = self._keys
        back = bool(
            self._put_back(
                keys=[k.dlq_inflight, k.dlq_index, held.marker, k.dlq_run(held.run)],
                args=[entry.entry_id, entry.failed_at_ms, held.run, "1" if own else "0"],
            )
        )
        if back:
            self.restore_outcome(entry, held)
        return back

    def restore_outcome(self, entry: DeadLetter, held: InFlight) -> None:
        """Undo the `pending` a requeue wrote, unless a worker has moved the ticket on since."""
        now = self._outcomes.get(entry.outcome_key)
        if now is None or now.job_id != held.message_id or now.status is not OutcomeStatus.PENDING:
            return
        if held.outcome:
            self._outcomes.force(Outcome.model_validate_json(held.outcome))
            return
        self._outcomes.force(
            Outcome(
                ticket_id=entry.ticket_id,
                event_id=entry.event_id,
                tenant_id=entry.tenant_id,
                source=entry.source,
                status=OutcomeStatus.DEAD_LETTERED,
                reason=entry.reason,
                attempts=entry.attempts,
                cost_micros=entry.cost_micros,
                updated_at_ms=entry.failed_at_ms,
            )
        )

    def held(self) -> list[tuple[InFlight, bool]]:
        """Every in-flight entry, with whether its run still lives (False: stranded)."""
        raw = cast(dict[str, str], self._r.hgetall(self._keys.dlq_inflight))
        found = [InFlight.parse(entry_id, rec) for entry_id, rec in raw.items()]
        if not found:
            return []
        pipe = self._r.pipeline(transaction=False)
        for item in found:
            pipe.exists(self._keys.dlq_run(item.run))
        alive = pipe.execute()
        return [(item, bool(live)) for item, live in zip(found, alive, strict=True)]

    def recover(self) -> int:
        """Put every stranded entry (its run died) back; returns how many went back."""
        back = 0
        for item, alive in self.held():
            if alive:
                continue
            entry = self._registry.get(item.entry_id)
            if entry is None:  # its JSON is gone (purged): only the record is left
                self._r.hdel(self._keys.dlq_inflight, item.entry_id)
                continue
            back += int(self.put_back(entry, item, own=False))
        return back
