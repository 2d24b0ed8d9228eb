"""Calling a connector against a real local HTTP service: the requester is always the bound
one, and every bad answer (slow, 500, 20 MB, not JSON, a redirect elsewhere) is an error
result, never an exception, with nothing fetched from where it may not go."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.connectors import ConnectorCaller, ConnectorSpec, Requester
from shared.outbound import OutboundClient
from tests.shared.connectors.service import HUGE_BYTES, Service, local_service

ANN = Requester("u-1", "ann@acme.example")


def spec(path: str, **extra: Any) -> ConnectorSpec:
    doc: dict[str, Any] = {
        "name": "lookup_orders",
        "description": "Orders of this ticket's customer",
        "parameters": {
            "properties": {"kind": {"type": "string", "enum": ["orders", "all"]}},
            "required": ["kind"],
        },
        "request": {"url": f"{extra.pop('base')}{path}", "query": {"kind": "{kind}"}},
    }
    doc.update(extra)
    return ConnectorSpec.model_validate(doc)


@pytest.fixture
def service() -> Iterator[Service]:
    with local_service() as found:
        yield found


@pytest.fixture
def caller() -> Iterator[ConnectorCaller]:
    # The service listens on loopback: allowed here, refused in test_refused_without_setting.
    http = OutboundClient(allow_private=True)
    yield ConnectorCaller(http)
    http.close()


def test_the_bound_requester_is_read_with_the_models_parameters(
    service: Service, caller: ConnectorCaller
) -> None:
    s = spec("/customers/{requester.id}", base=service.url)
    result = caller.call(s, {}, {"kind": "orders"}, ANN)
    assert result.status == "ok", result.error
    assert service.requests[0].headers["accept-encoding"] == "identity"
    assert result.data == {"id": "u-1", "query": {"kind": ["orders"]}, "orders": [1, 2]}
    assert service.paths == ["/customers/u-1"]


@pytest.mark.parametrize(
    "args",
    [
        {"kind": "all", "requester_id": "u-2"},
        {"kind": "all", "customer_email": "ben@acme.example"},
        {"kind": "all", "tenant": "globex"},
    ],
)
def test_asking_for_someone_else_is_denied_and_nothing_is_sent(
    service: Service, caller: ConnectorCaller, args: dict[str, Any]
) -> None:
    result = caller.call(spec("/customers/{requester.id}", base=service.url), {}, args, ANN)
    assert result.status == "denied"
    assert service.requests == []


def test_a_value_cannot_change_the_path_or_add_a_parameter(
    service: Service, caller: ConnectorCaller
) -> None:
    s = ConnectorSpec.model_validate(
        {
            "name": "order_status",
            "description": "One order of this customer",
            "parameters": {"properties": {"order": {"type": "string"}}, "required": ["order"]},
            "request": {"url": f"{service.url}/customers/{{requester.id}}/{{order}}"},
        }
    )
    result = caller.call(s, {}, {"order": "../u-2?requester=u-2#x"}, ANN)
    assert result.status == "ok"
    seen = service.requests[0]
    assert seen.path == "/customers/u-1/..%2Fu-2%3Frequester%3Du-2%23x"
    assert seen.query == {}
    # a value of dots alone is refused
    assert caller.call(s, {}, {"order": ".."}, ANN).status == "error"
    assert len(service.requests) == 1


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ({}, "kind: required"),
        ({"kind": "everything"}, "kind: not one of the allowed values"),
        ({"kind": 3}, "kind: must be a string"),
        ({"kind": "all", "limit": 5}, "limit: not a parameter of this tool"),
    ],
)
def test_bad_arguments_are_errors_naming_the_field(
    service: Service, caller: ConnectorCaller, args: dict[str, Any], why: str
) -> None:
    result = caller.call(spec("/customers/{requester.id}", base=service.url), {}, args, ANN)
    assert (result.status, result.error) == ("error", why)
    assert service.requests == []


def test_post_body_and_resolved_headers(service: Service, caller: ConnectorCaller) -> None:
    s = ConnectorSpec.model_validate(
        {
            "name": "open_return",
            "description": "Open a return",
            "parameters": {"properties": {"qty": {"type": "integer", "minimum": 1}}},
            "request": {
                "method": "POST",
                "url": f"{service.url}/echo",
                "headers": {"Authorization": "Bearer ${ACME_TOKEN}"},
                "body": {"who": "{requester.email}", "qty": "{qty}", "note": "for {requester.id}"},
            },
            "response": {"projection": {"sent": "/body", "auth": "/auth", "none": "/nope/0"}},
        }
    )
    result = caller.call(s, {"Authorization": "Bearer t0k3n"}, {"qty": 2}, ANN)
    assert result.status == "ok", result.error
    assert result.data == {
        "sent": {"who": "ann@acme.example", "qty": 2, "note": "for u-1"},
        "auth": "Bearer t0k3n",
        "none": None,
    }
    # an optional parameter left out is left out of the body
    assert caller.call(s, {}, {}, ANN).data["sent"] == {
        "who": "ann@acme.example",
        "note": "for u-1",
    }


def test_timeout_is_an_error_within_the_connectors_limit(
    service: Service, caller: ConnectorCaller
) -> None:
    for path in ("/slow", "/drip"):
        started = time.monotonic()
        result = caller.call(spec(path, base=service.url, timeout_s=0.4), {}, {"kind": "all"}, ANN)
        assert (result.status, result.error) == ("error", "no answer within 0.4 s"), path
        assert result.code == "timeout"
        assert time.monotonic() - started < 1.5, path


@pytest.mark.parametrize(
    ("path", "error", "code"),
    [
        ("/500", "the service answered HTTP 500", "http_status"),
        ("/nothing-here", "the service answered HTTP 404", "http_status"),
        ("/text", "the service did not answer JSON", "not_json"),
        ("/gzip", "the answer is compressed (only identity is accepted)", "compressed"),
        ("/redirect/metadata", "refused: the service redirected to another host", "redirect"),
        ("/redirect/other", "refused: the service redirected to another host", "redirect"),
    ],
)
def test_bad_answers_are_errors(
    service: Service, caller: ConnectorCaller, path: str, error: str, code: str
) -> None:
    with local_service() as other:
        service.other_url = other.url
        result = caller.call(spec(path, base=service.url), {}, {"kind": "all"}, ANN)
        assert (result.status, result.error, result.code) == ("error", error, code)
        # nothing was fetched from where the redirect pointed
        assert other.requests == []
    assert service.paths == [path]


def test_a_redirect_on_the_same_host_is_followed(service: Service, caller: ConnectorCaller) -> None:
    result = caller.call(spec("/redirect/same", base=service.url), {}, {"kind": "all"}, ANN)
    assert result.status == "ok" and result.data["id"] == "moved"


@pytest.mark.parametrize("path", ["/huge", "/huge-declared"])
def test_twenty_megabytes_stop_at_the_cap(
    service: Service, caller: ConnectorCaller, path: str
) -> None:
    s = spec(path, base=service.url, response={"max_bytes": 100_000})
    result = caller.call(s, {}, {"kind": "all"}, ANN)
    assert (result.status, result.error) == ("error", "the answer is larger than 100000 bytes")
    # the reader stopped early: far less than the 20 MB left the service
    time.sleep(0.2)
    assert service.huge_sent < HUGE_BYTES // 2


def test_refused_without_the_setting_and_pinned_after_dns(service: Service) -> None:
    # A name that resolves to loopback (DNS rebinding, a hostile record) is refused like the
    # literal, and nothing is sent.
    http = OutboundClient(allow_private=False, resolver=lambda _host, _port: ["127.0.0.1"])
    caller = ConnectorCaller(http)
    port = service.url.rsplit(":", 1)[1]
    for base in (service.url, f"https://orders.acme.example:{port}"):
        result = caller.call(spec("/customers/x", base=base), {}, {"kind": "all"}, ANN)
        assert result.status == "error" and result.error is not None
        assert result.error.startswith("the address is refused"), result.error
    assert service.requests == []
    http.close()
