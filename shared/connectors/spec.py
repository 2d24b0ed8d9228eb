"""A data connector's shape: one of the tenant's own HTTP services, offered to the model as a
tool. Declared in the tenants file under `[[tenants.T.connectors]]`, validated here.

What the model may pass is only the declared parameters (a JSON Schema subset: an object of
string, integer, number or boolean properties, optionally enums, some required). Whose data is
read is never the model's choice: `{requester.id}` and `{requester.email}` in the URL, query or
body are filled in server-side from the ticket. Secrets in headers are named as `${ENV_VAR}`
and resolved at start (shared/connectors/load.py). The URL's scheme, host and port are fixed
text (no placeholder) and the host must be on the tenant's `allowed_hosts`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# Names the agent's own tools use: a connector may not shadow them.
RESERVED_NAMES = frozenset({"search_knowledge_base", "escalate_to_human", "send_reply"})
# Filled in server-side from the ticket; the model never supplies them.
SERVER_FIELDS = frozenset({"requester.id", "requester.email"})
MAX_TIMEOUT_S = 5.0
MAX_RESPONSE_BYTES = 1_048_576
MAX_CALLS_PER_TICKET = 10

PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]*)\}")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]{0,127})\}")
# A parameter name the model could use to ask about someone else is not a parameter.
_IDENTITY_WORDS = re.compile(r"requester|tenant|email|customer|user|account", re.IGNORECASE)

ToolName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
ParamName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SERVER_SET_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "accept-encoding"}
)


def is_identity_name(name: str) -> bool:
    """Whether an argument name says whose data to read (never the model's choice)."""
    return bool(_IDENTITY_WORDS.search(name))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParamSpec(Strict):
    type: Literal["string", "integer", "number", "boolean"]
    description: str = Field(default="", max_length=500)
    enum: list[str | int | float] | None = Field(default=None, min_length=1, max_length=50)
    max_length: int = Field(default=200, ge=1, le=1_000)  # strings only
    minimum: float | None = None
    maximum: float | None = None

    @model_validator(mode="after")
    def _enum_matches_type(self) -> ParamSpec:
        numeric = self.type in ("integer", "number")
        if not numeric and (self.minimum is not None or self.maximum is not None):
            raise ValueError("minimum and maximum are for integers and numbers")
        if self.enum is not None:
            if self.type == "boolean":
                raise ValueError("a boolean takes no enum")
            want: tuple[type, ...] = (str,) if self.type == "string" else (int, float)
            if not all(isinstance(v, want) and not isinstance(v, bool) for v in self.enum):
                raise ValueError(f"every enum value must be a {self.type}")
        return self

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type}
        if self.description:
            schema["description"] = self.description
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.type == "string" and self.enum is None:
            schema["maxLength"] = self.max_length
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


class ParametersSpec(Strict):
    type: Literal["object"] = "object"
    properties: dict[ParamName, ParamSpec] = Field(default_factory=dict, max_length=20)
    required: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _sound(self) -> ParametersSpec:
        for name in self.properties:
            if is_identity_name(name):
                raise ValueError(
                    f"parameter {name!r} names a person or tenant: use {{requester.id}} or "
                    "{requester.email}, filled in server-side"
                )
        for name in self.required:
            if name not in self.properties:
                raise ValueError(f"required parameter {name!r} is not a property")
        return self

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {k: v.json_schema() for k, v in self.properties.items()},
            "required": list(self.required),
            "additionalProperties": False,
        }


class RequestSpec(Strict):
    method: Literal["GET", "POST"] = "GET"
    # Placeholders only in the path: `https://orders.acme.example/v1/customers/{requester.id}`.
    url: str = Field(min_length=8, max_length=2_000)
    # Query parameters; a value that is one placeholder of an optional parameter is left out
    # when the model does not pass it.
    query: dict[str, str] = Field(default_factory=dict, max_length=20)
    # Literal text and `${ENV_VAR}` references only.
    headers: dict[HeaderName, str] = Field(default_factory=dict, max_length=20)
    # POST only: a JSON object whose values are templates ("{qty}" alone keeps its type).
    body: dict[str, str] | None = None

    @model_validator(mode="after")
    def _sound(self) -> RequestSpec:
        head, _, _ = self.url.partition("://")
        rest = self.url[len(head) + 3 :]
        authority = rest.split("/", 1)[0].split("?", 1)[0]
        if "{" in head or "{" in authority or "$" in authority:
            raise ValueError("url: the scheme, host and port must be fixed text")
        if "@" in authority:
            raise ValueError("url: no user or password in it (use a header with ${ENV_VAR})")
        if "?" in self.url or "#" in self.url:
            raise ValueError("url: put query parameters under `query`, no fragment")
        target = httpx.URL(PLACEHOLDER.sub("x", self.url))
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError("url: must be an http(s) URL with a host")
        if self.body is not None and self.method != "POST":
            raise ValueError("body: only a POST sends one")
        for name, value in self.headers.items():
            if name.lower() in _SERVER_SET_HEADERS:
                raise ValueError(f"headers.{name}: set by paceline")
            if _CONTROL.search(value):
                raise ValueError(f"headers.{name}: control characters are not allowed")
            if PLACEHOLDER.search(ENV_REF.sub("", value)):
                raise ValueError(f"headers.{name}: only literal text and ${{ENV_VAR}} references")
        return self

    @property
    def host(self) -> str:
        return (httpx.URL(PLACEHOLDER.sub("x", self.url)).host or "").lower()

    @property
    def scheme(self) -> str:
        return httpx.URL(PLACEHOLDER.sub("x", self.url)).scheme

    def templates(self) -> list[tuple[str, str]]:
        """(where, template) for every text placeholders are filled into."""
        found = [("url", self.url)]
        found += [(f"query.{k}", v) for k, v in self.query.items()]
        found += [(f"body.{k}", v) for k, v in (self.body or {}).items()]
        return found


class ResponseSpec(Strict):
    # Output name -> JSON pointer (RFC 6901) into the answer; empty: the whole answer.
    projection: dict[str, str] = Field(default_factory=dict, max_length=50)
    max_bytes: int = Field(default=65_536, ge=1, le=MAX_RESPONSE_BYTES)

    @model_validator(mode="after")
    def _pointers(self) -> ResponseSpec:
        for name, pointer in self.projection.items():
            if pointer and not pointer.startswith("/"):
                raise ValueError(f"projection.{name}: a JSON pointer starts with '/'")
        return self


class ConnectorSpec(Strict):
    name: ToolName
    description: str = Field(min_length=1, max_length=500)
    parameters: ParametersSpec = Field(default_factory=ParametersSpec)
    request: RequestSpec
    response: ResponseSpec = Field(default_factory=ResponseSpec)
    timeout_s: float = Field(default=3.0, gt=0, le=MAX_TIMEOUT_S)
    max_calls_per_ticket: int = Field(default=3, ge=1, le=MAX_CALLS_PER_TICKET)

    @model_validator(mode="after")
    def _placeholders_known(self) -> ConnectorSpec:
        if self.name in RESERVED_NAMES:
            raise ValueError(f"name {self.name!r} is one of the agent's own tools")
        params = self.parameters
        for where, template in self.request.templates():
            for field in PLACEHOLDER.findall(template):
                if field in SERVER_FIELDS:
                    continue
                if field not in params.properties:
                    raise ValueError(
                        f"request.{where}: {{{field}}} is neither a parameter nor one of "
                        + ", ".join(f"{{{f}}}" for f in sorted(SERVER_FIELDS))
                    )
                if where == "url" and field not in params.required:
                    raise ValueError(f"request.url: {{{field}}} must be a required parameter")
        return self

    def tool_schema(self) -> dict[str, Any]:
        """The OpenAI function-tool schema the model is offered."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters.json_schema(),
            },
        }


def check_connectors(connectors: list[ConnectorSpec], allowed_hosts: list[str]) -> None:
    """A tenant's connectors together: names unique, every host on its allowlist."""
    allowed = {h.lower().rstrip(".") for h in allowed_hosts}
    seen: set[str] = set()
    for connector in connectors:
        if connector.name in seen:
            raise ValueError(f"connectors: two are named {connector.name!r}")
        seen.add(connector.name)
        if connector.request.host not in allowed:
            raise ValueError(
                f"connectors.{connector.name}.request.url: host {connector.request.host!r} "
                "is not in allowed_hosts"
            )
