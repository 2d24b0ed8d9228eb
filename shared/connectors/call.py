"""Calling a connector: the model's arguments checked against the declared parameters, the
requester filled in server-side, the request sent through the outbound guard, the answer read
in chunks up to its size cap, parsed as JSON and projected.

Every failure (refused address, redirect to another host, timeout, an error status, an answer
too large or not JSON) is a `ConnectorResult` with an error the model sees: nothing raises to
the agent. Error texts never carry the URL (it holds the requester's id or email) nor the
answer's body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx

from shared.clock import Clock, SystemClock
from shared.connectors.spec import PLACEHOLDER, ConnectorSpec, ParamSpec, is_identity_name
from shared.errors import OutboundRefused
from shared.outbound import OutboundClient

MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class Requester:
    """Whose data a call reads: the ticket's requester, never the model's choice."""

    id: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorResult:
    status: Literal["ok", "error", "denied"]
    data: Any = None
    error: str | None = None
    # What happened, as a metric label: ok, denied, bad_arguments, refused, timeout,
    # unreachable, http_status, redirect, too_large, compressed, not_json, unknown.
    code: str = "ok"


class ArgumentProblem(ValueError):
    def __init__(self, message: str, *, denied: bool = False) -> None:
        super().__init__(message)
        self.denied = denied


def check_arguments(spec: ConnectorSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """The model's arguments when they fit the declared parameters, else ArgumentProblem
    (naming fields, never echoing values). An argument that names a person or tenant is
    denied: whose data is read is not the model's to choose."""
    props = spec.parameters.properties
    for name in given:
        if name not in props:
            if is_identity_name(name):
                raise ArgumentProblem(
                    "denied: this tool only reads this ticket's requester", denied=True
                )
            raise ArgumentProblem(f"{name[:40]}: not a parameter of this tool")
    for name in spec.parameters.required:
        if name not in given:
            raise ArgumentProblem(f"{name}: required")
    return {name: _checked(name, props[name], value) for name, value in given.items()}


def _checked(name: str, param: ParamSpec, value: Any) -> Any:
    if param.type == "boolean":
        ok = isinstance(value, bool)
    elif param.type == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif param.type == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
    else:
        ok = isinstance(value, str) and 0 < len(value) <= param.max_length
        # A path segment of dots would walk up the tenant's URL.
        ok = ok and value.strip(".") != ""
    if not ok:
        raise ArgumentProblem(f"{name}: must be a {param.type}")
    if param.enum is not None and value not in param.enum:
        raise ArgumentProblem(f"{name}: not one of the allowed values")
    if param.minimum is not None and value < param.minimum:
        raise ArgumentProblem(f"{name}: below the minimum")
    if param.maximum is not None and value > param.maximum:
        raise ArgumentProblem(f"{name}: above the maximum")
    return value


def _values(args: Mapping[str, Any], requester: Requester) -> dict[str, Any]:
    return {**args, "requester.id": requester.id, "requester.email": requester.email or ""}


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def build_url(spec: ConnectorSpec, args: Mapping[str, Any], requester: Requester) -> str:
    """The URL with every placeholder filled, each value percent-encoded whole (a `/`, `?` or
    `#` in a value cannot change the path or add a parameter)."""
    values = _values(args, requester)
    path = PLACEHOLDER.sub(lambda m: quote(_text(values[m.group(1)]), safe=""), spec.request.url)
    params: list[tuple[str, str]] = []
    for key, template in spec.request.query.items():
        whole = PLACEHOLDER.fullmatch(template)
        if whole is not None and whole.group(1) not in values:
            continue  # an optional parameter the model left out
        params.append((key, PLACEHOLDER.sub(lambda m: _text(values.get(m.group(1), "")), template)))
    return str(httpx.URL(path, params=params)) if params else path


def build_body(spec: ConnectorSpec, args: Mapping[str, Any], requester: Requester) -> Any:
    if spec.request.body is None:
        return None
    values = _values(args, requester)
    body: dict[str, Any] = {}
    for key, template in spec.request.body.items():
        whole = PLACEHOLDER.fullmatch(template)
        if whole is not None:
            if whole.group(1) in values:
                body[key] = values[whole.group(1)]
            continue
        body[key] = PLACEHOLDER.sub(lambda m: _text(values.get(m.group(1), "")), template)
    return body


def project(doc: Any, projection: Mapping[str, str]) -> Any:
    """The named JSON pointers' values (None where a pointer finds nothing)."""
    if not projection:
        return doc
    return {name: resolve_pointer(doc, pointer) for name, pointer in projection.items()}


def resolve_pointer(doc: Any, pointer: str) -> Any:
    if pointer == "":
        return doc
    node = doc
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


class ConnectorCaller:
    """Sends connector requests through the process's outbound client (thread-safe)."""

    def __init__(
        self, http: OutboundClient, clock: Clock | None = None, *, owns_http: bool = False
    ) -> None:
        """`owns_http`: `close` closes the client (else its owner, the worker, does)."""
        self._http = http
        self._clock = clock or SystemClock()
        self._owns_http = owns_http

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def call(
        self,
        spec: ConnectorSpec,
        headers: Mapping[str, str],
        args: Mapping[str, Any],
        requester: Requester,
    ) -> ConnectorResult:
        """`headers`: the spec's headers with their `${ENV_VAR}` references resolved."""
        try:
            checked = check_arguments(spec, args)
        except ArgumentProblem as problem:
            if problem.denied:
                return ConnectorResult("denied", error=str(problem), code="denied")
            return ConnectorResult("error", error=str(problem), code="bad_arguments")
        url = build_url(spec, checked, requester)
        body = build_body(spec, checked, requester)
        # Uncompressed only: a compressed answer could inflate past the cap within one chunk.
        headers = {**headers, "Accept-Encoding": "identity"}
        deadline = self._clock.now_s() + spec.timeout_s
        try:
            raw = self._fetch(spec, url, dict(headers), body, deadline)
        except _Failed as failed:
            return ConnectorResult("error", error=str(failed), code=failed.code)
        except OutboundRefused as exc:
            return ConnectorResult("error", error=f"the address is {exc}", code="refused")
        except httpx.TimeoutException:
            timeout = f"no answer within {spec.timeout_s:g} s"
            return ConnectorResult("error", error=timeout, code="timeout")
        except httpx.HTTPError as exc:
            why = f"the service is unreachable ({type(exc).__name__})"
            return ConnectorResult("error", error=why, code="unreachable")
        try:
            doc = json.loads(raw)
        except ValueError:
            return ConnectorResult(
                "error", error="the service did not answer JSON", code="not_json"
            )
        return ConnectorResult("ok", data=project(doc, spec.response.projection))

    def _fetch(
        self,
        spec: ConnectorSpec,
        url: str,
        headers: dict[str, str],
        body: Any,
        deadline: float,
    ) -> bytes:
        method = spec.request.method
        origin = httpx.URL(url)
        for _hop in range(MAX_REDIRECTS + 1):
            remaining = deadline - self._clock.now_s()
            if remaining <= 0:
                raise httpx.ReadTimeout("deadline")
            with self._http.stream(
                method, url, json=body, headers=headers, timeout=remaining
            ) as response:
                if response.status_code in _REDIRECTS:
                    url = self._next_hop(origin, url, response, method)
                    continue
                if response.status_code >= 300:
                    raise _Failed(
                        f"the service answered HTTP {response.status_code}", "http_status"
                    )
                return self._read(response, spec.response.max_bytes, deadline)
        raise _Failed(f"more than {MAX_REDIRECTS} redirects", "redirect")

    @staticmethod
    def _next_hop(origin: httpx.URL, url: str, response: httpx.Response, method: str) -> str:
        """A redirect is followed only to the same scheme, host and port, and only for GET:
        a service may move a path, never send paceline (with its headers) elsewhere."""
        location = response.headers.get("location")
        if not location:
            raise _Failed(
                f"the service answered HTTP {response.status_code} without a Location", "redirect"
            )
        target = httpx.URL(url).join(location)
        same = (target.scheme, target.host, target.port) == (
            origin.scheme,
            origin.host,
            origin.port,
        )
        if not same:
            raise _Failed("refused: the service redirected to another host", "redirect")
        if method != "GET":
            raise _Failed("refused: a redirect of a POST is not followed", "redirect")
        return str(target)

    def _read(self, response: httpx.Response, cap: int, deadline: float) -> bytes:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise _Failed("the answer is compressed (only identity is accepted)", "compressed")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _Failed(f"the answer is larger than {cap} bytes", "too_large")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_raw():
            size += len(chunk)
            if size > cap:
                raise _Failed(f"the answer is larger than {cap} bytes", "too_large")
            if self._clock.now_s() > deadline:
                raise httpx.ReadTimeout("deadline")
            chunks.append(chunk)
        return b"".join(chunks)


class _Failed(Exception):
    """A connector failure whose message the model may see."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code
