"""The generic source: Stripe-style `X-Paceline-Timestamp` + `X-Paceline-Signature`.

Signed: `"<unix seconds>.<raw body>"`, HMAC-SHA256, hex, as `sha256=<hex>`; the body is the
contract's ticket JSON. Dedupe is on `event_id`. Reply: the outcome JSON to the ticket's
`callback_url` (no vendor API), which must not name a loopback or private address; its
`"visibility": "public"|"internal"` says how the receiver should post the reply.

The tenant: a tenant's own key (`/webhooks/generic/{tenant}`) decides it, and a body naming
another is refused; only the source-wide key may name one (`tenant_id`, default
PACELINE_WEBHOOK_DEFAULT_TENANT), since whoever holds it is trusted with every tenant.
"""

from __future__ import annotations

from shared.errors import NotATicket
from shared.outbound import url_problem
from shared.settings import Settings
from shared.vendors.base import INTERNAL, Inbound, Parsed, ReplyOptions, ReplyRequest
from shared.vendors.payload import build_ticket, load_object
from shared.vendors.signing import check_age, hmac_hex, parse_unix_s, require, same

TIMESTAMP_HEADER = "x-paceline-timestamp"
SIGNATURE_HEADER = "x-paceline-signature"


def sign(secret: bytes, body: bytes, timestamp_s: int) -> dict[str, str]:
    """The headers a sender attaches; used by tests, the bench and client examples."""
    digest = hmac_hex(secret, str(timestamp_s).encode() + b"." + body)
    return {"X-Paceline-Timestamp": str(timestamp_s), "X-Paceline-Signature": f"sha256={digest}"}


class GenericSource:
    name = "generic"

    def verify(self, inbound: Inbound, secret: bytes) -> None:
        raw_ts = require(inbound.header(TIMESTAMP_HEADER), "timestamp")
        signature = require(inbound.header(SIGNATURE_HEADER), "signature")
        signed_at_s = parse_unix_s(raw_ts)
        expected = hmac_hex(secret, raw_ts.encode() + b"." + inbound.body)
        # Compare before the age check so both failures take the same time path.
        same(signature.removeprefix("sha256=").lower(), expected)
        check_age(signed_at_s, inbound.now_s, inbound.tolerance_s)

    def parse(self, inbound: Inbound) -> Parsed:
        doc = load_object(inbound.body)
        if not inbound.bound:
            doc.setdefault("tenant_id", inbound.tenant)
        elif doc.setdefault("tenant_id", inbound.tenant) != inbound.tenant:
            raise NotATicket("tenant_id: this key signs for another tenant")
        # The route decides the source; a body claiming another one would dodge its dedupe.
        doc["source"] = self.name
        ticket = build_ticket(doc)
        if ticket.callback_url is not None:
            problem = url_problem(ticket.callback_url, inbound.allow_private_networks)
            if problem is not None:
                raise NotATicket(f"callback_url: {problem}")
        return Parsed(ticket=ticket, delivery_id=ticket.event_id)

    def reply(
        self, settings: Settings, ticket_id: str, note: str, options: ReplyOptions = INTERNAL
    ) -> ReplyRequest | None:
        """None: the generic source's reply goes to the ticket's `callback_url` instead."""
        return None
