"""The admission middleware: a ticket runs only when the money to answer it exists.

admit  -> the reservation rides in `message.options["paceline"]` and the actor runs; one
          the actor did not close is closed after it (releases.py);
defer  -> the message is parked in Redis until the ledger says (never a retry, never a dead
          letter), the outcome says `parked` with the reason, and the message is skipped (acked);
          a live ticket the pace cannot serve within its first-response SLO waits in the live
          line, gets the cheapest model, or is handed to a person instead (slo.py);
reject -> the outcome is `rejected` with the reason and a polite acknowledgement, skipped.
A ticket outside its tenant's rollout (terms.py, shared/tenants/rollout.py) asks nothing of
the ledger: its outcome is `not_in_rollout`, left for people, and the message is skipped.
The tenant's profile (its ladder, caps and SLO) is read in memory: no extra round trip.

dramatiq swallows every exception from `before_process_message` except `SkipMessage` and
`MiddlewareError` and then runs the actor anyway. So a failure here (Redis unreachable, a park
that did not land) is raised as `MiddlewareError`: the message is then handled as a failed
attempt (bounded retries), never acked as if it had been parked.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware, MiddlewareError, SkipMessage

from shared.errors import AdmissionError
from shared.ledger import AdmissionRequest, Candidate, Decision
from shared.messages import is_ticket_actor
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.stores.parking import parkable
from shared.tenants.rollout import NOT_IN_ROLLOUT, in_rollout
from workers.admission.acknowledge import CAP_REASONS, acknowledge_cap
from workers.admission.batch import AdmittingConsumer
from workers.admission.decision import (
    CLOSED,
    OPTION,
    Prepared,
    take_prepared,
)
from workers.admission.envelope import candidates_for
from workers.admission.handoff import hand_off
from workers.admission.slo import CHEAPEST_REASON, LINE_OPTION, Step, lane_sent
from workers.admission.terms import AdmissionTerms
from workers.message_shape import read_ticket_message
from workers.worker_context import WorkerContext

log = logging.getLogger("paceline.admission")

REJECT_ACK = (
    "Thank you for your message. It is longer than we can answer automatically, so a member "
    "of our team will pick it up and reply to you personally."
)


class AdmissionMiddleware(Middleware):
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        # Each tenant's ladder, caps and SLO, from its profile (in memory; reloads with it).
        self._terms = AdmissionTerms(ctx.settings, ctx.prices, ctx.tenants, ctx.slo)
        # Envelopes depend only on the prompt's bound and the ladder (settings and prices
        # are fixed here).
        self._candidates = functools.lru_cache(maxsize=4096)(self._candidates_for)

    def _candidates_for(self, bound: int, ladder: tuple[str, ...]) -> tuple[Candidate, ...] | None:
        found = candidates_for(bound, self.ctx.settings, self.ctx.prices, list(ladder))
        return None if found is None else tuple(found)

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        """On a broker that allows it, admit each fetched batch in one round trip on the
        consumer thread (batch.py); elsewhere, one message at a time."""
        wrappers = getattr(broker, "consumer_wrappers", None)
        if wrappers is not None and self._wrap_consumer not in wrappers:
            wrappers.append(self._wrap_consumer)

    def _wrap_consumer(self, queue_name: str, consumer: Any) -> Any:
        return AdmittingConsumer.around(queue_name, consumer, self)

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        if not is_ticket_actor(message.actor_name):
            return
        try:
            prepared = take_prepared(message)
            if prepared is None:
                (prepared,) = self.prepare([message])
            self._enact(message, prepared)
        except (SkipMessage, MiddlewareError):
            raise
        except Exception as exc:
            log.warning(
                "admission failed: %s", type(exc).__name__, extra={"job_id": message.message_id}
            )
            raise AdmissionError(f"admission failed: {type(exc).__name__}") from exc

    def prepare(self, messages: list[Any]) -> list[Prepared]:
        """Admit ticket messages in one round trip: the gates' reads, then one admit script
        per ticket, the first closing the pending releases before it decides. Raises when
        the round trip fails (nothing decided); a single ticket whose script failed raises
        when it is carried out."""
        ctx = self.ctx
        assert ctx.agent is not None
        out: list[Prepared] = []
        asks: list[tuple[Prepared, AdmissionRequest]] = []
        for message in messages:
            read = read_ticket_message(message.actor_name, message.args, message.kwargs)
            prep = Prepared(read.lane, read.ticket, read.problem)
            out.append(prep)
            ticket = read.ticket
            if ticket is None:
                continue
            terms = self._terms.get(ticket.tenant_id)
            prep.slo = terms.slo
            if not in_rollout(terms.profile, ticket):
                prep.not_in_rollout = True
                continue
            candidates = self._candidates(ctx.agent.prompt_bound(ticket), terms.ladder)
            if candidates is None:
                continue
            prep.request = AdmissionRequest(
                ticket_key=ticket.idempotency_key,
                tenant_id=ticket.tenant_id,
                requester_id=ticket.requester.id,
                lane=lane_sent(read.lane.value, bool(message.options.get(LINE_OPTION))),
                candidates=candidates,
                outcome_key=ticket.key,
                event_id=ticket.event_id,
                tenant_cap_micros=terms.tenant_cap_micros,
                requester_cap_micros=terms.requester_cap_micros,
            )
            asks.append((prep, prep.request))
        if not asks:
            return out

        # Gates that are not money (the kill switch, the provider circuit, its rate limits) read
        # their state in the admit's round trip; a closed gate parks the ticket and gives
        # back what was just admitted (rare: only while the provider is out or throttling).
        gates = ctx.gates
        spans: list[int] = []

        def gate_reads(pipe: Any) -> None:
            spans.extend(gate.queue_reads(pipe) for gate in gates)

        # Reservations earlier actors left open are closed in this round trip, first (inside
        # the batch's admit script: `Ledger.admit_batch`).
        releases = ctx.releases.take()
        try:
            reads, decisions = ctx.ledger.admit_batch([a for _, a in asks], gate_reads, releases)
        except Exception:
            ctx.releases.put_back(releases)
            raise
        for (prep, _), decision in zip(asks, decisions, strict=True):
            if isinstance(decision, Exception):
                prep.problem = f"admission failed: {type(decision).__name__}"
                continue
            prep.decision = decision
            assert prep.ticket is not None
            offset = 0
            for gate, n in zip(gates, spans, strict=True):
                prep.closed = gate.decide(reads[offset : offset + n], prep.ticket, prep.lane)
                offset += n
                if prep.closed is not None:
                    break
        return out

    def _enact(self, message: Any, prep: Prepared) -> None:
        """Carry out a decision: run the actor, park, reject or skip (on the worker thread)."""
        lane, ticket, decision = prep.lane, prep.ticket, prep.decision
        if ticket is None:
            # Not a ticket: the actor dead-letters it with the reason; no money is involved.
            message.options[OPTION] = {"invalid": prep.problem}
            return
        if prep.not_in_rollout:
            self._finish(ticket, lane, message, OutcomeStatus.NOT_IN_ROLLOUT, NOT_IN_ROLLOUT, None)
            raise SkipMessage(NOT_IN_ROLLOUT)
        if decision is None:
            if prep.problem is not None:  # this ticket's admit script failed
                raise AdmissionError(prep.problem)
            self._finish(
                ticket, lane, message, OutcomeStatus.REJECTED, "request_too_large", REJECT_ACK
            )
            raise SkipMessage("rejected")
        if decision.kind == "skip":
            log.info("duplicate delivery skipped", extra={"ticket_id": ticket.ticket_id})
            raise SkipMessage("already final")
        if prep.closed is not None:
            if decision.kind == "admit" and not decision.reused:
                assert decision.reservation_id is not None
                self.ctx.ledger.release(decision.reservation_id)
            until_ms, reason = prep.closed
            self._park(message, ticket, lane, until_ms, reason)
            raise SkipMessage("parked")
        if decision.kind == "admit":
            self._run(message, decision)
            return
        if lane is Lane.LIVE and self._over_slo(message, prep, decision.reason):
            return
        self._park(message, ticket, lane, decision.until_ms, decision.reason)
        raise SkipMessage("parked")

    def _run(self, message: Any, decision: Decision, why: str | None = None) -> None:
        message.options[OPTION] = {
            "reservation_id": decision.reservation_id,
            "grant_micros": decision.grant_micros,
            # Made by this admission (not a redelivery's): its whole grant is left.
            "fresh": not decision.reused,
            "model": decision.model,
            "admitted": why or decision.reason,
        }

    def _over_slo(self, message: Any, prep: Prepared, reason: str) -> bool:
        """A deferred live ticket under the first-response SLO. False: park it as the ledger
        said; True: the cheapest model was admitted and the actor runs; otherwise the SLO's
        step is carried out here (the line, a hand-off) and `SkipMessage` raised."""
        ctx, ticket, decision = self.ctx, prep.ticket, prep.decision
        assert ticket is not None and prep.request is not None and decision is not None
        accepted_ms = int(message.message_timestamp)
        slo = prep.slo or ctx.slo
        res = slo.resolve(ctx.ledger, prep.request, decision, accepted_ms, ctx.now_ms())
        if res.step is Step.PARK:
            return False
        if res.step is Step.RUN:
            assert res.decision is not None
            self._run(message, res.decision, CHEAPEST_REASON)
            return True
        if res.step is Step.LINE:
            # The scheduler releases the line at each ticket's decide-by under the settings'
            # SLO; a tenant's own SLO shifts its place so that it is released at its own.
            shift_ms = slo.decide_after_ms - ctx.slo.decide_after_ms
            self._park(
                message, ticket, prep.lane, res.until_ms, reason, in_line=True, shift_ms=shift_ms
            )
            raise SkipMessage("parked")
        hand_off(ctx, message, ticket, prep.lane)
        raise SkipMessage("handed off")

    def abandon(self, messages: list[Any]) -> None:
        """Messages admitted on the consumer that will not run here (requeued at shutdown,
        skipped by an earlier middleware): their fresh reservations are closed. A decision
        carried out was taken off its message first, so it is never closed here."""
        for message in messages:
            prep = take_prepared(message)
            if prep is None or prep.decision is None:
                continue
            d = prep.decision
            if d.kind == "admit" and not d.reused and d.reservation_id:
                self.ctx.releases.add(d.reservation_id)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        if is_ticket_actor(message.actor_name):
            self.abandon([message])

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        """An actor that finished without closing its reservation gets it closed (soon, in
        the next admission's round trip). After a failure it stays open: the retry reuses it."""
        if exception is not None or not is_ticket_actor(message.actor_name):
            return
        opts = message.options.get(OPTION) or {}
        rid = opts.get("reservation_id")
        if rid and not opts.get(CLOSED):
            opts[CLOSED] = True
            self.ctx.releases.add(str(rid))

    def _park(
        self,
        message: Any,
        ticket: Ticket,
        lane: Lane,
        until_ms: int,
        reason: str,
        *,
        in_line: bool = False,
        shift_ms: int = 0,
    ) -> None:
        ctx = self.ctx
        # A requester or tenant out of budget hears from us (a person will reply), not silence;
        # the ticket still waits for the new budget day in case nobody picks it up first.
        ack = (
            acknowledge_cap(ctx.settings, ctx.clock, ticket, reason)
            if reason in CAP_REASONS
            else None
        )
        # Park first, then say so: if the park fails the message is retried, not lost.
        retries = {k: v for k, v in message.options.items() if k == "retries"}
        if in_line:
            clean = parkable(message, **retries, **{LINE_OPTION: True})
            ctx.parking.park_in_line(clean, int(message.message_timestamp) + shift_ms, reason)
        else:
            ctx.parking.park(parkable(message, **retries), lane, until_ms, reason)
        ctx.outcomes.update(
            Outcome.for_ticket(
                ticket,
                lane,
                OutcomeStatus.PARKED,
                reason=reason,
                reply=ack,
                job_id=message.message_id,
                updated_at_ms=ctx.now_ms(),
            )
        )
        log.info(
            "parked: %s",
            reason,
            extra={"ticket_id": ticket.ticket_id, "tenant_id": ticket.tenant_id},
        )

    def _finish(
        self,
        ticket: Ticket,
        lane: Lane,
        message: Any,
        status: OutcomeStatus,
        reason: str,
        reply: str | None,
    ) -> None:
        ctx = self.ctx
        ctx.outcomes.finalize(
            Outcome.for_ticket(
                ticket,
                lane,
                status,
                reason=reason,
                reply=reply,
                job_id=message.message_id,
                updated_at_ms=ctx.now_ms(),
            )
        )
