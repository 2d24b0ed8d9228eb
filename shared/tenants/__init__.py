"""Tenants: the file naming each tenant and what belongs to it (`PACELINE_TENANTS_FILE`).

`model` holds the file's shape (validated by pydantic), `load` reads it, resolves the secrets
it names by environment variable and refuses a bad file at start with one line; `registry`
keeps a running process's copy fresh (hot reload) and answers `profile_for(tenant)`.
"""

from shared.tenants.load import Tenants, load_tenants, read_tenants_file, resolve_tenants
from shared.tenants.model import (
    DEFAULT_PROFILE,
    EscalationTarget,
    Tenant,
    TenantsFile,
    VendorAccount,
    WebhookKey,
)
from shared.tenants.registry import TenantRegistry, install, profile_for

__all__ = [
    "DEFAULT_PROFILE",
    "EscalationTarget",
    "Tenant",
    "TenantRegistry",
    "Tenants",
    "TenantsFile",
    "VendorAccount",
    "WebhookKey",
    "install",
    "load_tenants",
    "profile_for",
    "read_tenants_file",
    "resolve_tenants",
]
