"""The tenants file's shape. TOML, validated here; unknown fields are errors (a typo in a
security setting must not be ignored).

```toml
[tenants.acme.webhooks]
zendesk = { secret_env = "ACME_ZENDESK_SECRET" }   # POST /webhooks/zendesk/acme
generic = { secret_env = "ACME_GENERIC_SECRET" }
```

Secrets are named by environment variable, never written in the file. Each tenant's section
is where later per-tenant settings (profile, connectors, reply mode) belong.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared.connectors.spec import ConnectorSpec, check_connectors
from shared.settings import ENV_PREFIX, WEBHOOK_SOURCES

# The same rule as a ticket's tenant_id, so every tenant named here can own tickets.
TenantId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,100}$")]


class WebhookKey(BaseModel):
    """The secret one source signs this tenant's deliveries with, by environment variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

    @field_validator("secret_env")
    @classmethod
    def _not_a_setting(cls, value: str) -> str:
        # PACELINE_* names are settings: an unknown one stops every process at start.
        if value.upper().startswith(ENV_PREFIX):
            raise ValueError(f"must not start with {ENV_PREFIX} (those names are settings)")
        return value


class Tenant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Source name -> its signing key: `POST /webhooks/{source}/{tenant}` verifies with it.
    webhooks: dict[str, WebhookKey] = Field(default_factory=dict)

    @field_validator("webhooks")
    @classmethod
    def _known_sources(cls, value: dict[str, WebhookKey]) -> dict[str, WebhookKey]:
        for source in value:
            if source not in WEBHOOK_SOURCES:
                raise ValueError(f"unknown source {source!r} (one of {', '.join(WEBHOOK_SOURCES)})")
        return value

    # Data connectors (docs/connectors.md): the tenant's own services as the agent's tools,
    # each on a host of `allowed_hosts`.
    connectors: list[ConnectorSpec] = Field(default_factory=list, max_length=20)
    allowed_hosts: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _connectors_allowed(self) -> Tenant:
        check_connectors(self.connectors, self.allowed_hosts)
        return self


class TenantsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenants: dict[TenantId, Tenant] = Field(default_factory=dict)
