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
from shared.secret_strength import HOW_TO_MAKE_ONE, weakness
from shared.settings import ENV_PREFIX, Settings
from shared.tenants.model import TenantsFile

SETTING = f"{ENV_PREFIX}TENANTS_FILE"


@dataclass(frozen=True)
class Tenants:
    """The tenants file as loaded, with the secrets it names resolved."""

    file: TenantsFile = field(default_factory=TenantsFile)
    # (tenant, source) -> the secret that source signs that tenant's deliveries with.
    webhook_secrets: Mapping[tuple[str, str], bytes] = field(default_factory=dict)
    # tenant -> its data connectors, header secrets resolved.
    connectors: Mapping[str, tuple[Connector, ...]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return sorted(self.file.tenants)

    def webhook_secret(self, tenant: str, source: str) -> bytes | None:
        return self.webhook_secrets.get((tenant, source))

    def secret_values(self) -> list[str]:
        """Every secret resolved from the file: logs and replies must never carry them."""
        webhooks = [v.decode() for v in self.webhook_secrets.values()]
        return webhooks + connector_secrets(self.connectors)


def read_tenants_file(path: Path) -> TenantsFile:
    """The file validated, or SettingsError with one line naming the tenant and the field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{SETTING}: cannot read {path} ({exc.strerror})") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{SETTING}: {path} is not valid TOML ({exc})") from None
    try:
        return TenantsFile.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        msg = err["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{SETTING}: {_where(err['loc'])}: {msg}") from None


def load_tenants(settings: Settings, environ: Mapping[str, str] | None = None) -> Tenants:
    """The configured tenants (none without `PACELINE_TENANTS_FILE`); `environ` lets tests
    pass the variables instead of the process environment."""
    if settings.tenants_file is None:
        return Tenants()
    file = read_tenants_file(settings.tenants_file)
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
    for name, tenant in file.tenants.items():
        try:
            found = resolve_connectors(
                tenant.connectors, env, allow_private=settings.allow_private_networks
            )
        except ValueError as exc:
            raise SettingsError(f"{SETTING}: tenant {name!r}: {exc}") from None
        if found:
            connectors[name] = found
    return Tenants(file, secrets, connectors)


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
