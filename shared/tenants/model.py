"""The tenants file's shape. TOML, validated here; unknown fields are errors (a typo in a
security setting must not be ignored).

```toml
[tenants.acme]
display_name = "Acme Outdoor"
reply_mode = "public_when_grounded"

[tenants.acme.webhooks]
zendesk = { secret_env = "ACME_ZENDESK_SECRET" }   # POST /webhooks/zendesk/acme
```

Secrets are named by environment variable, never written in the file. Every profile field is
optional: a tenant without one behaves as every tenant did before profiles (docs/tenants.md).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared.connectors.spec import ConnectorSpec, check_connectors
from shared.money import usd_to_micros
from shared.settings import ENV_PREFIX, WEBHOOK_SOURCES

# The same rule as a ticket's tenant_id, so every tenant named here can own tickets.
TENANT_ID = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
TenantId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,100}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
ReplyMode = Literal["draft", "public", "public_when_grounded"]
# A vendor's group or user id: digits, letters, `_` and `-` (they go into request bodies).
VendorRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100)]

DEFAULT_MAX_AUTO_REPLIES = 3
# Vendors whose cloud site a subdomain names (the others have one API URL for everyone).
SUBDOMAIN_SOURCES = ("zendesk", "jira", "freshdesk")
MAX_INSTRUCTIONS_CHARS = 4_000


def _not_a_setting(value: str) -> str:
    # PACELINE_* names are settings: an unknown one stops every process at start.
    if value.upper().startswith(ENV_PREFIX):
        raise ValueError(f"must not start with {ENV_PREFIX} (those names are settings)")
    return value


def _known_sources(value: dict[str, object]) -> None:
    for source in value:
        if source not in WEBHOOK_SOURCES:
            raise ValueError(f"unknown source {source!r} (one of {', '.join(WEBHOOK_SOURCES)})")


class WebhookKey(BaseModel):
    """The secret one source signs this tenant's deliveries with, by environment variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_env: EnvName

    @field_validator("secret_env")
    @classmethod
    def _env(cls, value: str) -> str:
        return _not_a_setting(value)


class VendorAccount(BaseModel):
    """This tenant's own account at a helpdesk: where replies go and who posts them.

    `subdomain` is shorthand for the vendor's cloud URL (Zendesk, Freshdesk, Jira);
    `base_url` names any URL. `user` is the vendor's second credential part: the API user's
    email (Zendesk, Jira) or the admin a reply is written as (Intercom)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subdomain: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9\-]{0,62}$")
    base_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    user: str | None = Field(default=None, max_length=200)
    token_env: EnvName | None = None

    @field_validator("token_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return value if value is None else _not_a_setting(value)

    @model_validator(mode="after")
    def _one_place(self) -> VendorAccount:
        if self.subdomain and self.base_url:
            raise ValueError("give subdomain or base_url, not both")
        return self


class EscalationTarget(BaseModel):
    """Where a ticket the assistant hands over goes: a vendor group or one assignee."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group_id: VendorRef | None = None
    assignee_id: VendorRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> EscalationTarget:
        if (self.group_id is None) == (self.assignee_id is None):
            raise ValueError("give exactly one of group_id or assignee_id")
        return self

    def label(self) -> str:
        return f"group:{self.group_id}" if self.group_id else f"assignee:{self.assignee_id}"


class Tenant(BaseModel):
    """One tenant's profile; every field's default is the behaviour without a profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Source name -> its signing key: `POST /webhooks/{source}/{tenant}` verifies with it.
    webhooks: dict[str, WebhookKey] = Field(default_factory=dict)
    # The voice: named in the prompt, then the tenant's own instructions after the fixed
    # safety rules (workers/agent/prompt.py), in one of `languages` when given.
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    instructions: str = Field(default="", max_length=MAX_INSTRUCTIONS_CHARS)
    languages: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z\-]{2,20}$")]] = Field(
        default_factory=list
    )
    # The model and its cheaper steps (priced at start, like PACELINE_MODEL and the ladder).
    model: str | None = Field(default=None, min_length=1, max_length=200)
    ladder: list[str] | None = None
    # Daily caps in USD: this tenant's defaults, below a runtime `paceline budget set`.
    tenant_daily_cap_usd: Decimal | None = None
    requester_daily_cap_usd: Decimal | None = None
    reply_mode: ReplyMode = "draft"
    max_auto_replies: int = Field(default=DEFAULT_MAX_AUTO_REPLIES, ge=0, le=100)
    escalation: EscalationTarget | None = None
    vendors: dict[str, VendorAccount] = Field(default_factory=dict)
    forbidden_phrases: list[Annotated[str, StringConstraints(min_length=2, max_length=200)]] = (
        Field(default_factory=list)
    )
    live_max_wait_s: int | None = Field(default=None, ge=1)
    # Day-one rollout: a share of tickets (by a hash of the ticket id) and tag filters;
    # the rest are left for people (`not_in_rollout`).
    rollout_pct: int = Field(default=100, ge=0, le=100)
    only_tags: list[Tag] = Field(default_factory=list)
    never_tags: list[Tag] = Field(default_factory=list)

    @field_validator("webhooks", "vendors")
    @classmethod
    def _sources(cls, value: dict[str, object]) -> dict[str, object]:
        _known_sources(value)
        return value

    # Data connectors (docs/connectors.md): the tenant's own services as the agent's tools,
    # each on a host of `allowed_hosts`.
    connectors: list[ConnectorSpec] = Field(default_factory=list, max_length=20)
    allowed_hosts: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _connectors_allowed(self) -> Tenant:
        check_connectors(self.connectors, self.allowed_hosts)
        return self

    @field_validator("vendors")
    @classmethod
    def _no_generic_account(cls, value: dict[str, VendorAccount]) -> dict[str, VendorAccount]:
        if "generic" in value:
            raise ValueError("generic has no vendor account (its replies go to callback_url)")
        for source, account in value.items():
            if account.subdomain and source not in SUBDOMAIN_SOURCES:
                raise ValueError(f"{source} has no subdomain: give base_url")
        return value

    @field_validator("tenant_daily_cap_usd", "requester_daily_cap_usd", mode="before")
    @classmethod
    def _usd(cls, value: object) -> object:
        if value is None:
            return None
        try:
            # A TOML float goes through its shortest text: 0.1 stays 0.1.
            amount = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise ValueError('not an amount in USD (e.g. 25 or "0.50")') from None
        if not amount.is_finite() or amount <= 0:
            raise ValueError("must be more than 0")
        return amount

    @field_validator("ladder")
    @classmethod
    def _ladder(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not m.strip() for m in value):
            raise ValueError("empty model name")
        return value

    @property
    def tenant_cap_micros(self) -> int | None:
        d = self.tenant_daily_cap_usd
        return None if d is None else usd_to_micros(d)

    @property
    def requester_cap_micros(self) -> int | None:
        d = self.requester_daily_cap_usd
        return None if d is None else usd_to_micros(d)

    def visibility(self, *, answered: bool, grounded: bool) -> Literal["public", "internal"]:
        """How a reply is posted under this reply mode. An answer goes public in `public`,
        and in `public_when_grounded` when it cites an article or a data tool's result (it
        has passed the reply check, or it would not be an answer). Our own fixed texts (a
        hand-off's acknowledgement) go public only in `public`."""
        if self.reply_mode == "public":
            return "public"
        if self.reply_mode == "public_when_grounded" and answered and grounded:
            return "public"
        return "internal"

    def models(self) -> list[str]:
        return [m for m in [self.model, *(self.ladder or [])] if m]


class TenantsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenants: dict[TenantId, Tenant] = Field(default_factory=dict)


# Tenants the file does not name use this: today's behaviour.
DEFAULT_PROFILE = Tenant()
