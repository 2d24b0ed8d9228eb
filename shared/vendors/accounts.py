"""A tenant's own helpdesk account as the vendor clients read it: the settings, with that
vendor's part replaced by the tenant's (URL, user, token).

A tenant with an account for a vendor replaces that vendor's whole configuration: nothing of
the source-wide `PACELINE_<VENDOR>_API_*` leaks into its requests (a missing part makes the
client unconfigured, so the reply is kept, not posted with someone else's token). A tenant
without one uses the source-wide settings, as before profiles.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from shared.settings import Settings
from shared.tenants import VendorAccount

# source -> (URL field, the URL a subdomain stands for, user field, token field)
_FIELDS: dict[str, tuple[str, str | None, str | None, str]] = {
    "zendesk": (
        "zendesk_api_url", "https://{}.zendesk.com", "zendesk_api_email", "zendesk_api_token"
    ),
    "intercom": ("intercom_api_url", None, "intercom_admin_id", "intercom_api_token"),
    "front": ("front_api_url", None, None, "front_api_token"),
    "helpscout": ("helpscout_api_url", None, None, "helpscout_api_token"),
    "jira": ("jira_api_url", "https://{}.atlassian.net", "jira_api_email", "jira_api_token"),
    "freshdesk": ("freshdesk_api_url", "https://{}.freshdesk.com", None, "freshdesk_api_key"),
}  # fmt: skip


def account_settings(
    settings: Settings, source: str, account: VendorAccount, token: str | None
) -> Settings:
    """`settings` with `source`'s API configuration taken from the tenant's `account`."""
    fields = _FIELDS.get(source)
    if fields is None:
        return settings
    url_field, cloud_url, user_field, token_field = fields
    url: str | None = account.base_url
    if url is None and account.subdomain is not None and cloud_url is not None:
        url = cloud_url.format(account.subdomain)
    update: dict[str, Any] = {token_field: SecretStr(token) if token else None}
    if url is not None:
        update[url_field] = url
    elif Settings.model_fields[url_field].default is None:
        update[url_field] = None  # no cloud default: the tenant must name its site
    else:
        update[url_field] = Settings.model_fields[url_field].default
    if user_field is not None:
        update[user_field] = account.user
    return settings.model_copy(update=update)
