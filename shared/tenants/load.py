"""Reading the tenants file at start: TOML, validated, every secret it names resolved.

A file that cannot be read or parsed, an unknown field, a variable that is not set or a secret
too weak to sign with stops the process with one line naming the tenant and the field
(`SettingsError`), like a bad setting. The named variables are read from the environment, then
from `.env` (as settings are).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.connectors.directory import Connector
from shared.connectors.resolve import resolve_connectors
from shared.connectors.resolve import secret_values as connector_secrets
from shared.errors import SettingsError
from shared.pricing import PriceTable
from shared.secret_strength import HOW_TO_MAKE_ONE, weakness
from shared.settings import ENV_PREFIX, Settings
from shared.tenants.model import DEFAULT_PROFILE, Tenant, TenantsFile

SETTING = f"{ENV_PREFIX}TENANTS_FILE"


@dataclass(frozen=True)
class Tenants:
    """The tenants file as loaded, with the secrets it names resolved."""

    file: TenantsFile = field(default_factory=TenantsFile)
    # (tenant, source) -> the secret that source signs that tenant's deliveries with.
    webhook_secrets: Mapping[tuple[str, str], bytes] = field(default_factory=dict)
    # tenant -> its data connectors, header secrets resolved.
    connectors: Mapping[str, tuple[Connector, ...]] = field(default_factory=dict)
    # (tenant, source) -> the API token of that tenant's own account at the vendor.
    vendor_tokens: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return sorted(self.file.tenants)

    def profile(self, tenant: str) -> Tenant:
        """The tenant's profile; the defaults (today's behaviour) for one the file omits."""
        return self.file.tenants.get(tenant, DEFAULT_PROFILE)

    def webhook_secret(self, tenant: str, source: str) -> bytes | None:
        return self.webhook_secrets.get((tenant, source))

    def vendor_token(self, tenant: str, source: str) -> str | None:
        return self.vendor_tokens.get((tenant, source))

    def secret_values(self) -> list[str]:
        """Every secret resolved from the file: logs and replies must never carry them."""
        webhooks = [v.decode() for v in self.webhook_secrets.values()]
        return webhooks + connector_secrets(self.connectors) + list(self.vendor_tokens.values())


def read_tenants_file(path: Path) -> TenantsFile:
    """The file validated, or SettingsError with one line naming the tenant and the field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{SETTING}: cannot read {path} ({exc.strerror})") from None
    return read_tenants_bytes(raw, str(path))


def read_tenants_bytes(raw: bytes, name: str = "the tenants file") -> TenantsFile:
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{SETTING}: {name} is not valid TOML ({exc})") from None
    try:
        return TenantsFile.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        msg = err["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{SETTING}: {_where(err['loc'])}: {msg}") from None


def load_tenants(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    prices: PriceTable | None = None,
) -> Tenants:
    """The configured tenants (none without `PACELINE_TENANTS_FILE`); `environ` lets tests
    pass the variables instead of the process environment. With `prices`, every model a
    profile names must be priced (as PACELINE_MODEL must)."""
    if settings.tenants_file is None:
        return Tenants()
    file = read_tenants_file(settings.tenants_file)
    return resolve_tenants(file, environ, prices, allow_private=settings.allow_private_networks)


def resolve_tenants(
    file: TenantsFile,
    environ: Mapping[str, str] | None = None,
    prices: PriceTable | None = None,
    *,
    allow_private: bool = False,
) -> Tenants:
    """A validated file with the variables it names read and checked (SettingsError).
    `allow_private`: PACELINE_ALLOW_PRIVATE_NETWORKS, for the connectors' hosts."""
    env = _environment() if environ is None else environ
    secrets: dict[tuple[str, str], bytes] = {}
    for name, tenant in file.tenants.items():
        for source, key in tenant.webhooks.items():
            where = f"{SETTING}: tenant {name!r}: webhooks.{source}.secret_env"
            value = env.get(key.secret_env)
            if not value:
                raise SettingsError(f"{where}: {key.secret_env} is not set")
            why = weakness(value)
            if why is not None:
                raise SettingsError(
                    f"{where}: {key.secret_env} is too weak ({why}); {HOW_TO_MAKE_ONE}"
                )
            secrets[(name, source)] = value.encode()
    connectors: dict[str, tuple[Connector, ...]] = {}
    tokens: dict[tuple[str, str], str] = {}
    for name, tenant in file.tenants.items():
        try:
            found = resolve_connectors(tenant.connectors, env, allow_private=allow_private)
        except ValueError as exc:
            raise SettingsError(f"{SETTING}: tenant {name!r}: {exc}") from None
        if found:
            connectors[name] = found
        for source, account in tenant.vendors.items():
            if account.token_env is None:
                continue
            value = env.get(account.token_env)
            if not value:
                where = f"{SETTING}: tenant {name!r}: vendors.{source}.token_env"
                raise SettingsError(f"{where}: {account.token_env} is not set")
            tokens[(name, source)] = value
        if prices is not None:
            field_name = "ladder" if tenant.model is None else "model"
            for model in tenant.models():
                where = f"{SETTING}: tenant {name!r}: {field_name}"
                prices.require_priced([model], where)
                field_name = "ladder"
    return Tenants(file, secrets, connectors, tokens)


def _environment() -> dict[str, str]:
    from dotenv import dotenv_values  # pydantic-settings' own reader of `.env`

    found = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    return found | dict(os.environ)


def _where(loc: tuple[Any, ...]) -> str:
    """('tenants', 'acme', 'webhooks', 'zendesk', 'secret_env') -> "tenant 'acme': webhooks.…"."""
    parts = [str(p) for p in loc if p != "[key]"]
    if len(parts) >= 2 and parts[0] == "tenants":
        return f"tenant {parts[1]!r}: " + (".".join(parts[2:]) or "name")
    return ".".join(parts) or "file"
