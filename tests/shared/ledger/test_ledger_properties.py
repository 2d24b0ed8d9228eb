"""Property-based tests of the ledger: random interleavings from many threads never let
spent + reserved pass any cap; settle is idempotent; the books balance."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.clock import ManualClock
from shared.keys import Keys
from shared.ledger import AdmissionRequest, Candidate, Ledger
from shared.ledger.ledger import split_books
from tests.conftest import REDIS_URL, delete_namespace, make_settings

TENANTS = ["acme", "globex"]
USERS = ["u1", "u2", "u3"]


@dataclass
class Books:
    """What the threads did, to check the ledger's books against."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    expected_spent: int = 0
    violations: list[str] = field(default_factory=list)


def snapshot_ok(client: redis.Redis, ledger: Ledger, caps: dict[str, int]) -> str | None:
    """One atomic read (MULTI) of spent and reserved; returns a violation or None."""
    day = ledger.day()
    keys = Keys(ledger._keys.namespace)
    books = split_books(client.hgetall(keys.books(day)))  # one hash: one atomic read
    spent, reserved = books["spent"], books["reserved"]
    for scope in set(spent) | set(reserved):
        total = int(spent.get(scope, 0)) + int(reserved.get(scope, 0))
        cap = caps["global"] if scope == "global" else caps[scope.split(":")[0]]
        if total > cap:
            return f"{scope}: spent+reserved {total} > cap {cap}"
        if int(reserved.get(scope, 0)) < 0:
            return f"{scope}: negative reserved"
    return None


def worker(ledger: Ledger, clock: ManualClock, ops: list[tuple[int, ...]], books: Books) -> None:
    rng = random.Random(ops[0][0] if ops else 0)
    open_res: list[str] = []
    drawn: dict[tuple[str, str], int] = {}
    for i, op in enumerate(ops):
        kind = op[0] % 6
        if kind in (0, 1) or not open_res:
            tenant, user = TENANTS[op[1] % 2], USERS[op[2] % 3]
            full = 500 + op[3] * 37 % 4000
            d = ledger.admit(
                AdmissionRequest(
                    ticket_key=f"t-{threading.get_ident()}-{i}",
                    tenant_id=tenant,
                    requester_id=user,
                    lane="live",
                    candidates=[Candidate("m", full, min(full, 300))],
                )
            )
            if d.kind == "admit" and d.reservation_id:
                open_res.append(d.reservation_id)
        elif kind in (2, 3):
            rid = rng.choice(open_res)
            call = f"c{i}"
            w = 50 + op[3] * 13 % 1500
            if ledger.draw(rid, call, w).ok:
                drawn[(rid, call)] = w
                with books.lock:
                    books.expected_spent += w  # charged at worst case unless settled below
                if op[1] % 3:
                    actual = w * (op[2] % 101) // 100  # the estimate is an upper bound
                    first = ledger.settle(rid, call, actual)
                    again = ledger.settle(rid, call, actual)
                    with books.lock:
                        if first:
                            books.expected_spent += actual - w
                        if again:
                            books.violations.append("settle was not idempotent")
        elif kind == 4:
            ledger.release(open_res.pop(rng.randrange(len(open_res))))
        else:
            clock.advance(op[3] % 7)  # sometimes past a lease, so reaping interleaves
            if op[2] % 2:
                ledger.reap()  # as the scheduler's tick does (admission reaps only to refuse)
    for rid in open_res:
        ledger.release(rid)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    ops=st.lists(
        st.tuples(
            st.integers(0, 1000), st.integers(0, 1000), st.integers(0, 1000), st.integers(0, 1000)
        ),
        min_size=40,
        max_size=160,
    ),
    threads=st.integers(2, 8),
)
def test_random_interleavings_never_pass_a_cap_and_the_books_balance(
    ops: list[tuple[int, int, int, int]], threads: int
) -> None:
    ns = f"pltest-prop-{random.getrandbits(40):x}"
    settings_ = make_settings(
        ns,
        daily_ceiling_usd="0.02",
        tenant_daily_cap_usd="0.012",
        user_daily_cap_usd="0.005",
        reservation_lease_s=10,
        pacing="off",
    )
    caps = {"global": 20_000, "tenant": 12_000, "user": 5_000}
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    clock = ManualClock()
    ledger = Ledger(client, Keys(ns), settings_, clock)
    books = Books()
    stop = threading.Event()

    def monitor() -> None:
        while not stop.is_set():
            bad = snapshot_ok(client, ledger, caps)
            if bad:
                books.violations.append(bad)
                return

    try:
        chunks = [ops[i::threads] for i in range(threads)]
        pool = [threading.Thread(target=worker, args=(ledger, clock, c, books)) for c in chunks]
        watcher = threading.Thread(target=monitor)
        watcher.start()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        stop.set()
        watcher.join()
        ledger.reap(limit=10_000)
        # Then no cap was ever passed, nothing stays reserved, and spent is what was billed.
        assert books.violations == []
        assert snapshot_ok(client, ledger, caps) is None
        booked = ledger.day_books()
        assert all(v == 0 for v in booked["reserved"].values()), booked
        assert booked["spent"].get("global", 0) == books.expected_spent
        tenant_sum = sum(v for s, v in booked["spent"].items() if s.startswith("tenant:"))
        user_sum = sum(v for s, v in booked["spent"].items() if s.startswith("user:"))
        assert tenant_sum == user_sum == books.expected_spent
    finally:
        delete_namespace(client, ns)
        client.close()
