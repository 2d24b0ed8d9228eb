"""The one `Settings` object: read from the environment (prefix `PACELINE_`) and `.env`.

Built in entry points and passed down; nothing reads the environment at import time.
A wrong or missing setting stops the process with one line naming it (`load_settings`).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.errors import SettingsError
from shared.money import usd_to_micros
from shared.pricing import PriceTable, parse_aliases
from shared.secret_strength import HOW_TO_MAKE_ONE, weakness

ENV_PREFIX = "PACELINE_"
WEBHOOK_SOURCES = ("generic", "zendesk", "intercom", "front", "helpscout", "jira", "freshdesk")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        case_sensitive=False,
        frozen=True,
    )

    # --- where things live -------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str | None = None
    namespace: str = Field(default="paceline", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")

    # --- the provider ------------------------------------------------------------------
    llm_provider: Literal["openai", "azure"] = "openai"
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    # Azure OpenAI: the resource's endpoint (https://<resource>.openai.azure.com) and the
    # data-plane API version; PACELINE_MODEL and the ladder then name deployments.
    azure_endpoint: str | None = None
    azure_api_version: str = Field(default="2024-10-21", pattern=r"^\d{4}-\d{2}-\d{2}(-preview)?$")
    model: str = "gpt-4.1-mini"
    # Cheaper models to fall back to when the pace is tight, best first (comma separated).
    model_ladder: str = "gpt-4.1-mini,gpt-4o-mini,gpt-4.1-nano"
    # Deployment or gateway names -> the priced model each bills as (JSON object).
    model_aliases: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_connect_timeout_s: float = Field(default=5.0, gt=0)
    pricing_file: Path | None = None

    # --- money (USD in settings; micro-dollars everywhere else) ------------------------
    daily_ceiling_usd: Decimal = Field(default=Decimal("50"), gt=0)
    tenant_daily_cap_usd: Decimal = Field(default=Decimal("10"), gt=0)
    user_daily_cap_usd: Decimal = Field(default=Decimal("0.50"), gt=0)
    request_token_cap: int = Field(default=24_000, ge=1_000)
    timezone: str = "UTC"
    pacing: Literal["even", "off"] = "even"
    # Share of the ceiling replay and redrive may never touch: it is kept for live tickets.
    live_reserve_pct: int = Field(default=30, ge=0, le=100)
    # How far ahead of the even pace spend may run, as a share of the day's ceiling.
    pace_burst_pct: int = Field(default=5, ge=1, le=100)
    reservation_lease_s: int = Field(default=180, ge=5)
    # The live lane's first-response SLO, and what happens to a live ticket the pace cannot
    # serve within it (docs/slo.md): the cheapest ladder model, a hand-off, or waiting.
    live_max_wait_s: int = Field(default=900, ge=1)
    over_slo: Literal["cheapest", "handoff", "wait"] = "cheapest"

    # --- the agent ---------------------------------------------------------------------
    max_steps: int = Field(default=6, ge=1, le=50)
    max_output_tokens: int = Field(default=600, ge=16)
    ticket_deadline_s: float = Field(default=60.0, gt=0)
    context_window_tokens: int = Field(default=128_000, ge=1_000)

    # --- conversations (shared/conversation) -------------------------------------------
    # An answered ticket with no customer message for this long counts as resolved.
    resolution_window_h: float = Field(default=24.0, gt=0, le=24 * 90)

    # --- the help centre (shared/knowledge) ----------------------------------------------
    # None: wordllama in process (offline, free); a model name: the provider's embeddings.
    embedding_model: str | None = None
    # How often a worker looks for a newer import of a tenant's help centre.
    knowledge_refresh_s: float = Field(default=5.0, gt=0, le=60)

    # --- failure handling --------------------------------------------------------------
    max_retries: int = Field(default=3, ge=0, le=10)
    retry_base_ms: int = Field(default=500, ge=1)
    retry_max_ms: int = Field(default=30_000, ge=1)
    dlq_retention_days: int = Field(default=30, ge=1)
    heartbeat_timeout_ms: int = Field(default=60_000, ge=1_000)
    # dramatiq re-delivers a dead worker's messages during "maintenance", run on this many
    # Redis commands per million; dramatiq's default (1,000) can take minutes on an idle queue.
    broker_maintenance_per_million: int = Field(default=10_000, ge=1, le=1_000_000)
    circuit_error_rate_pct: int = Field(default=50, ge=1, le=100)
    circuit_min_calls: int = Field(default=10, ge=1)
    circuit_open_s: float = Field(default=10.0, gt=0)

    # --- producers ---------------------------------------------------------------------
    dedupe_window_s: int = Field(default=7 * 24 * 3600, ge=60)
    # How long a ticket's outcome stays in Redis after its last change (the history database
    # keeps it for good); the scheduler sweeps the outcomes index and counts to match.
    outcome_retention_s: int = Field(default=30 * 24 * 3600, ge=60)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    webhook_tolerance_s: int = Field(default=300, ge=1)
    webhook_secret_generic: SecretStr | None = None
    webhook_secret_zendesk: SecretStr | None = None
    webhook_secret_intercom: SecretStr | None = None
    webhook_secret_front: SecretStr | None = None
    webhook_secret_helpscout: SecretStr | None = None
    webhook_secret_jira: SecretStr | None = None
    webhook_secret_freshdesk: SecretStr | None = None
    # The tenant of every ticket that arrives on a source-wide key (`/webhooks/{source}`);
    # only the generic source may name another, and only on such a key.
    webhook_default_tenant: str = Field(default="default", pattern=r"^[A-Za-z0-9_.\-]{1,100}$")
    # Tenants and their own webhook keys (`/webhooks/{source}/{tenant}`): shared/tenants/.
    tenants_file: Path | None = None
    # Requests to URLs paceline did not configure (callbacks, vendor APIs, the alert webhook)
    # may reach loopback, private, link-local addresses only when this is true (tests, demos).
    allow_private_networks: bool = False

    # --- conversations (docs/conversations.md) ------------------------------------------
    # Entries kept per ticket thread (messages and outcomes; older ones are cut, and counted).
    thread_max_messages: int = Field(default=20, ge=2, le=500)
    # Model spend on one ticket over all its events; past it the ticket goes to a person.
    ticket_lifetime_cap_usd: Decimal = Field(default=Decimal("0.25"), gt=0)
    # paceline's own author ids per source (`zendesk:12345,jira:5b10a...`): events they
    # author are its own replies coming back, dropped. Intercom's `intercom_admin_id` and the
    # generic source's `paceline` are always included.
    own_author_ids: str = ""

    # --- replies back to the ticketing systems (each vendor skipped until its token is set) --
    reply_timeout_s: float = Field(default=10.0, gt=0)
    zendesk_api_url: str | None = None  # https://<subdomain>.zendesk.com
    zendesk_api_email: str | None = None  # with a token: basic auth "<email>/token"
    zendesk_api_token: SecretStr | None = None
    intercom_api_url: str = "https://api.intercom.io"
    intercom_api_token: SecretStr | None = None
    intercom_admin_id: str | None = None  # the admin a note is written as
    front_api_url: str = "https://api2.frontapp.com"
    front_api_token: SecretStr | None = None
    helpscout_api_url: str = "https://api.helpscout.net"
    helpscout_api_token: SecretStr | None = None
    jira_api_url: str | None = None  # https://<site>.atlassian.net
    jira_api_email: str | None = None  # with a token: basic auth (Cloud); else bearer (DC PAT)
    jira_api_token: SecretStr | None = None
    freshdesk_api_url: str | None = None  # https://<domain>.freshdesk.com
    freshdesk_api_key: SecretStr | None = None

    # --- the worker --------------------------------------------------------------------
    worker_threads: int = Field(default=8, ge=1, le=256)

    # --- the history database (shared/history/) ----------------------------------------
    # SQLAlchemy URL: postgresql://… in production; unset, a SQLite file under .paceline/.
    database_url: str | None = None
    # Stored transcripts (ticket text, replies) older than this are erased; cost rows stay.
    transcript_retention_days: int = Field(default=90, ge=1, le=36_500)
    # `mask`: emails and phone numbers are masked before a transcript is stored; `off`: kept.
    transcript_redaction: Literal["mask", "off"] = "mask"
    # Key of the keyed hash that replaces a forgotten requester's id (`paceline forget`).
    pseudonym_key: SecretStr | None = None
    archive_batch_rows: int = Field(default=1_000, ge=1, le=50_000)
    # Entries of the history stream still to archive at which the backlog alert fires.
    archive_backlog_alert_entries: int = Field(default=100_000, ge=1)
    # An entry delivered to an archiver that has not acked it for this long is taken over.
    archive_claim_idle_s: int = Field(default=60, ge=1)

    # --- operations --------------------------------------------------------------------
    sentry_dsn: SecretStr | None = None
    environment: str = "development"
    release: str = "paceline@0.1.0"
    ops_token: SecretStr | None = None
    # Mark the /ops session cookie Secure even when the request reached us over plain HTTP
    # (TLS ends at a proxy that does not send X-Forwarded-Proto).
    ops_secure_cookie: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    alert_webhook_url: str | None = None
    alert_thresholds_pct: str = "50,80,100"
    # Every process serves its Prometheus metrics on this internal port, never on the public
    # webhook port (0: off); a process whose port is taken (several on one host) serves on
    # the next free one above it.
    metrics_port: int = Field(default=9108, ge=0, le=65535)
    # Where the metrics port listens: every interface (a pod, a container) by default;
    # `paceline up` keeps it on loopback.
    metrics_host: str = "0.0.0.0"  # noqa: S104 - scraped from other hosts in a deployment

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator(*(f"webhook_secret_{s}" for s in WEBHOOK_SOURCES), "ops_token")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty value is "not set" (compose passes unset variables through as empty).
        if value is None or not value.get_secret_value():
            return None
        why = weakness(value.get_secret_value())
        if why is not None:
            raise ValueError(f"too weak ({why}); {HOW_TO_MAKE_ONE}")
        return value

    @field_validator("metrics_host")
    @classmethod
    def _an_address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(
                "must be an IP address to listen on (0.0.0.0, 127.0.0.1, ::)"
            ) from None
        return value

    @field_validator("own_author_ids")
    @classmethod
    def _source_author_pairs(cls, value: str) -> str:
        for item in filter(None, (i.strip() for i in value.split(","))):
            source, sep, author = item.partition(":")
            if not (sep and author.strip()) or source.strip() not in WEBHOOK_SOURCES:
                raise ValueError("must be source:author_id pairs, comma separated")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
            raise ValueError("must start with redis:// or amqp://")
        return value

    @field_validator("model_aliases", mode="before")
    @classmethod
    def _aliases_json(cls, value: Any) -> dict[str, str]:
        try:
            return parse_aliases(value)
        except ValueError as exc:
            reason = str(exc) if "alias" in str(exc) else f"not valid JSON ({exc})"
            raise ValueError(reason) from None

    @field_validator("azure_endpoint")
    @classmethod
    def _azure_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https://")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with postgresql:// or sqlite://")
        return value or None

    @model_validator(mode="after")
    def _azure_needs_endpoint(self) -> Settings:
        if self.llm_provider == "azure" and not self.azure_endpoint:
            raise ValueError("PACELINE_AZURE_ENDPOINT: required when PACELINE_LLM_PROVIDER=azure")
        return self

    @model_validator(mode="after")
    def _slo_outlasts_the_agent(self) -> Settings:
        # A ticket admitted at once may still take the agent's whole deadline to answer.
        if self.live_max_wait_s <= self.ticket_deadline_s:
            raise ValueError(
                f"PACELINE_LIVE_MAX_WAIT_S: {self.live_max_wait_s} s is not longer than the "
                f"agent's own deadline (PACELINE_TICKET_DEADLINE_S={self.ticket_deadline_s:g}): "
                "no first response could be promised within it"
            )
        return self

    # --- derived values (never stored as floats) ---------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or self.redis_url

    @property
    def ticket_lifetime_cap_micros(self) -> int:
        return usd_to_micros(self.ticket_lifetime_cap_usd)

    def own_authors(self) -> frozenset[tuple[str, str]]:
        """(source, author id) pairs that are paceline itself."""
        pairs = {("generic", "paceline")}
        if self.intercom_admin_id:
            pairs.add(("intercom", self.intercom_admin_id))
        for item in self.own_author_ids.split(","):
            source, sep, author = item.strip().partition(":")
            if sep and source and author:
                pairs.add((source.strip(), author.strip()))
        return frozenset(pairs)

    @property
    def ceiling_micros(self) -> int:
        return usd_to_micros(self.daily_ceiling_usd)

    # Caps nest: requester within tenant within the ceiling. A cap above its parent is used
    # as its parent's value (`cap_warnings` says so once at start), the same for every scope.
    @property
    def tenant_cap_micros(self) -> int:
        return min(usd_to_micros(self.tenant_daily_cap_usd), self.ceiling_micros)

    @property
    def user_cap_micros(self) -> int:
        return min(usd_to_micros(self.user_daily_cap_usd), self.tenant_cap_micros)

    def cap_warnings(self) -> list[str]:
        """One line per cap set above its parent, naming both and the value used."""
        tenant, ceiling = self.tenant_daily_cap_usd, self.daily_ceiling_usd
        user, parent = self.user_daily_cap_usd, min(tenant, ceiling)
        found = []
        if tenant > ceiling:
            found.append(_above("TENANT_DAILY_CAP_USD", tenant, "DAILY_CEILING_USD", ceiling))
        if user > parent:
            name = "TENANT_DAILY_CAP_USD" if tenant <= ceiling else "DAILY_CEILING_USD"
            found.append(_above("USER_DAILY_CAP_USD", user, name, parent))
        return found

    @property
    def ladder(self) -> list[str]:
        return [m.strip() for m in self.model_ladder.split(",") if m.strip()]

    @property
    def configured_models(self) -> dict[str, list[str]]:
        """Every model this configuration can send a request under, by the setting naming it."""
        return {"PACELINE_MODEL": [self.model], "PACELINE_MODEL_LADDER": self.ladder}

    @property
    def thresholds_pct(self) -> list[int]:
        return sorted({int(p) for p in self.alert_thresholds_pct.split(",") if p.strip()})

    def webhook_secret(self, source: str) -> bytes | None:
        secret: SecretStr | None = getattr(self, f"webhook_secret_{source}", None)
        return secret.get_secret_value().encode() if secret else None


def _above(name: str, value: Decimal, parent: str, parent_value: Decimal) -> str:
    return (
        f"{ENV_PREFIX}{name}={value} is above {ENV_PREFIX}{parent}={parent_value}: "
        f"using {parent_value}"
    )


def _unknown_env_names(environ: dict[str, str]) -> list[str]:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(k for k in environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings or raise `SettingsError` whose message is one line naming the setting.

    `environ` lets tests pass a dict instead of mutating the process environment.
    """
    env = dict(os.environ if environ is None else environ)
    unknown = _unknown_env_names(env)
    if unknown:
        name = unknown[0]
        known = [ENV_PREFIX + n.upper() for n in Settings.model_fields]
        close = difflib.get_close_matches(name.upper(), known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SettingsError(f"{name}: unknown setting{hint}")
    values: dict[str, Any] = {}
    for key, value in env.items():
        if key.upper().startswith(ENV_PREFIX):
            values[key[len(ENV_PREFIX) :].lower()] = value
    values.update(overrides)
    try:
        if environ is None:
            settings = Settings(**overrides)
        else:
            settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        name = ENV_PREFIX + field.upper() if field in Settings.model_fields else field
        msg = err["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name}: {msg}" if name else msg) from None
    require_priced_models(settings)
    return settings


def price_table(settings: Settings) -> PriceTable:
    """The prices this configuration bills by: list prices, the pricing file, the aliases."""
    return PriceTable.load(settings.pricing_file, settings.model_aliases)


def require_priced_models(settings: Settings) -> PriceTable:
    """Every model the configuration can use has a price, or SettingsError naming the setting
    and the model: a process stops at start rather than dead-lettering every ticket later."""
    prices = price_table(settings)
    for setting_name, models in settings.configured_models.items():
        prices.require_priced(models, setting_name)
    return prices


def stepping_ladder(settings: Settings, prices: PriceTable) -> list[str]:
    """The default model, then the ladder's models that cost no more per typical ticket, in
    their configured order: a dearer one is never stepped down to (`ladder_warnings`)."""
    default = prices.typical_ticket_micros(settings.model)
    ladder = [settings.model]
    for model in settings.ladder:
        if model not in ladder and prices.typical_ticket_micros(model) <= default:
            ladder.append(model)
    return ladder


def ladder_warnings(settings: Settings, prices: PriceTable) -> list[str]:
    """One line per ladder model that costs more than the default (said once at start)."""
    kept = stepping_ladder(settings, prices)
    dearer = [m for m in settings.ladder if m not in kept]
    if not dearer:
        return []
    left = (
        "the live lane stays on the default" if len(kept) == 1 else f"stepping down to {kept[1:]}"
    )
    return [
        f"{ENV_PREFIX}MODEL_LADDER: {dearer} cost more per ticket than {ENV_PREFIX}MODEL "
        f"{settings.model!r} and are never stepped down to; {left}"
    ]
