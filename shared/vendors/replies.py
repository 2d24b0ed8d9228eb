"""One request builder per vendor: the agent's answer as an internal note or comment.

Each returns `None` when the vendor is not configured (no token, or no site URL), and the
reply is then skipped. Public API shapes:
- Zendesk: `PUT /api/v2/tickets/{id}.json`, a comment with `public: false`.
- Intercom: `POST /conversations/{id}/reply`, `message_type: note` as the configured admin.
- Front: `POST /conversations/{id}/comments` (comments are internal to the team).
- Help Scout: `POST /v2/conversations/{id}/notes`.
- Jira / JSM: `POST /rest/api/2/issue/{key}/comment`, marked internal for JSM.
- Freshdesk: `POST /api/v2/tickets/{id}/notes` with `private: true`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from shared.settings import Settings
from shared.vendors import freshdesk, front, helpscout, intercom, jira, zendesk


@dataclass(frozen=True)
class ReplyRequest:
    method: str
    url: str
    json: dict[str, Any]
    headers: dict[str, str]


def _basic(user: str, secret: SecretStr) -> dict[str, str]:
    raw = f"{user}:{secret.get_secret_value()}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def _bearer(secret: SecretStr) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret.get_secret_value()}"}


def _path_id(ticket_id: str, prefix: str) -> str:
    return quote(ticket_id.removeprefix(f"{prefix}-"), safe="")


def _zendesk(s: Settings, ticket_id: str, text: str) -> ReplyRequest | None:
    if not (s.zendesk_api_url and s.zendesk_api_token):
        return None
    auth = (
        _basic(f"{s.zendesk_api_email}/token", s.zendesk_api_token)
        if s.zendesk_api_email
        else _bearer(s.zendesk_api_token)
    )
    url = (
        f"{s.zendesk_api_url.rstrip('/')}/api/v2/tickets/{_path_id(ticket_id, zendesk.PREFIX)}.json"
    )
    return ReplyRequest("PUT", url, {"ticket": {"comment": {"body": text, "public": False}}}, auth)


def _intercom(s: Settings, ticket_id: str, text: str) -> ReplyRequest | None:
    if not (s.intercom_api_token and s.intercom_admin_id):
        return None
    cid = _path_id(ticket_id, intercom.PREFIX)
    url = f"{s.intercom_api_url.rstrip('/')}/conversations/{cid}/reply"
    doc = {"message_type": "note", "type": "admin", "admin_id": s.intercom_admin_id, "body": text}
    return ReplyRequest("POST", url, doc, _bearer(s.intercom_api_token))


def _front(s: Settings, ticket_id: str, text: str) -> ReplyRequest | None:
    if not s.front_api_token:
        return None
    url = (
        f"{s.front_api_url.rstrip('/')}/conversations/{_path_id(ticket_id, front.PREFIX)}/comments"
    )
    return ReplyRequest("POST", url, {"body": text}, _bearer(s.front_api_token))


def _helpscout(s: Settings, ticket_id: str, text: str) -> ReplyRequest | None:
    if not s.helpscout_api_token:
        return None
    cid = _path_id(ticket_id, helpscout.PREFIX)
    url = f"{s.helpscout_api_url.rstrip('/')}/v2/conversations/{cid}/notes"
    return ReplyRequest("POST", url, {"text": text}, _bearer(s.helpscout_api_token))


def _jira(s: Settings, ticket_id: str, text: str) -> ReplyRequest | None:
    if not (s.jira_api_url and s.jira_api_token):
        return None
    auth = (
        _basic(s.jira_api_email, s.jira_api_token)
        if s.jira_api_email
        else _bearer(s.jira_api_token)
    )
    url = (
        f"{s.jira_api_url.rstrip('/')}/rest/api/2/issue/{_path_id(ticket_id, jira.PREFIX)}/comment"
    )
    # The property makes it an internal comment in JSM; plain Jira ignores it.
    internal = [{"key": "sd.public.comment", "value": {"internal": True}}]
    return ReplyRequest("POST", url, {"body": text, "properties": internal}, auth)


def _freshdesk(s: Settings, ticket_id: str, text: str) -> ReplyRequest | None:
    if not (s.freshdesk_api_url and s.freshdesk_api_key):
        return None
    tid = _path_id(ticket_id, freshdesk.PREFIX)
    url = f"{s.freshdesk_api_url.rstrip('/')}/api/v2/tickets/{tid}/notes"
    # Freshdesk's API key is the basic-auth user; the password is ignored ("X" by convention).
    auth = _basic(s.freshdesk_api_key.get_secret_value(), SecretStr("X"))
    return ReplyRequest("POST", url, {"body": text, "private": True}, auth)


Builder = Callable[[Settings, str, str], ReplyRequest | None]

BUILDERS: dict[str, Builder] = {
    "zendesk": _zendesk,
    "intercom": _intercom,
    "front": _front,
    "helpscout": _helpscout,
    "jira": _jira,
    "freshdesk": _freshdesk,
}


def vendor_request(
    settings: Settings, source: str, ticket_id: str, text: str
) -> ReplyRequest | None:
    builder = BUILDERS.get(source)
    return builder(settings, ticket_id, text) if builder else None
