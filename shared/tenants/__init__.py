"""Tenants: the file naming each tenant and what belongs to it (`PACELINE_TENANTS_FILE`).

`model` holds the file's shape (validated by pydantic), `load` reads it, resolves the secrets
it names by environment variable and refuses a bad file at start with one line.
"""

from shared.tenants.load import Tenants, load_tenants, read_tenants_file
from shared.tenants.model import Tenant, TenantsFile, WebhookKey

__all__ = ["Tenant", "Tenants", "TenantsFile", "WebhookKey", "load_tenants", "read_tenants_file"]
