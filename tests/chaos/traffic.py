"""Traffic for the chaos scenarios: the bundled sample tickets, re-keyed per scenario, sent as
signed webhooks the way a vendor does (retrying on 5xx or a refused connection, same event)."""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.data import load_sample
from tests.helpers import sign_generic


def sample_tickets(prefix: str, n: int, callback_url: str | None = None) -> list[dict[str, Any]]:
    """`n` distinct tickets (the sample cycled, deliberate repeats left out), ids under `prefix`."""
    rows = [r for r in load_sample() if not r.get("duplicate_of")]
    out = []
    for i in range(n):
        doc = {k: v for k, v in rows[i % len(rows)].items() if k not in ("expect", "duplicate_of")}
        doc["ticket_id"] = f"{prefix}-{i:04d}-{doc['ticket_id']}"
        doc["event_id"] = f"{prefix}-evt-{i:04d}"
        if callback_url:
            doc["callback_url"] = callback_url
        out.append(doc)
    return out


@dataclass
class Delivery:
    ticket_id: str
    status: int
    job_id: str = ""
    duplicate: bool = False
    tries: int = 1


@dataclass
class Sender:
    """Posts generic-source webhooks; remembers which tickets were accepted (a 202)."""

    webhook_url: str
    secret: str
    deadline_s: float = 60.0
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.http = httpx.Client(
            timeout=10, limits=httpx.Limits(max_connections=64, max_keepalive_connections=32)
        )

    def close(self) -> None:
        self.http.close()

    def send(self, doc: dict[str, Any]) -> Delivery:
        body = json.dumps(doc).encode()
        url = f"{self.webhook_url}/webhooks/generic"
        deadline = time.monotonic() + self.deadline_s
        tries = 0
        while True:
            tries += 1
            try:
                # Signed per attempt: a vendor's retry carries a fresh timestamp.
                resp = self.http.post(url, content=body, headers=sign_generic(self.secret, body))
                status = resp.status_code
            except httpx.HTTPError:
                status = 0
            if (status < 500 and status != 0) or time.monotonic() > deadline:
                break
            time.sleep(min(0.2 * tries, 1.0))
        d = Delivery(ticket_id=doc["ticket_id"], status=status, tries=tries)
        if status == 202:
            reply = resp.json()
            d.job_id, d.duplicate = str(reply["job_id"]), bool(reply["duplicate"])
        with self.lock:
            self.deliveries.append(d)
        return d

    def send_all(self, docs: list[dict[str, Any]], concurrency: int = 8) -> list[Delivery]:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(self.send, docs))

    def send_paced(self, docs: list[dict[str, Any]], per_s: float, stop: threading.Event) -> None:
        """A steady stream (in a thread): faults land while traffic is still arriving."""
        for doc in docs:
            if stop.is_set():
                return
            self.send(doc)
            time.sleep(1.0 / per_s)

    def accepted(self) -> set[str]:
        with self.lock:
            return {d.ticket_id for d in self.deliveries if d.status == 202}

    def refused(self) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.status != 202]


def storm(docs: list[dict[str, Any]], lo: int, hi: int, seed: int = 11) -> list[dict[str, Any]]:
    """Each delivery repeated lo..hi times, shuffled, so copies race each other."""
    rng = random.Random(seed)
    out = [doc for doc in docs for _ in range(rng.randint(lo, hi))]
    rng.shuffle(out)
    return out
