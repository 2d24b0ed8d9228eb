"""Connector declarations in the tenants file: what is refused at start, with one line naming
the tenant, the connector and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.errors import SettingsError
from shared.tenants import load_tenants
from tests.conftest import make_settings

TOKEN = "Zq8v1Lw3Kx9Tm2Rb7Hn4Yc6Pd0Fs5Ug"


def connector(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "lookup_orders",
        "description": "Orders of this ticket's customer",
        "parameters": {
            "properties": {"kind": {"type": "string", "enum": ["orders", "all"]}},
            "required": ["kind"],
        },
        "request": {
            "url": "https://orders.acme.example/v1/customers/{requester.id}",
            "query": {"kind": "{kind}"},
            "headers": {"Authorization": "Bearer ${ACME_ORDERS_TOKEN}"},
        },
    }
    doc.update(over)
    return doc


def toml_value(value: Any) -> str:
    import json

    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def write(
    tmp_path: Path, conn: dict[str, Any], hosts: tuple[str, ...] = ("orders.acme.example",)
) -> Path:
    path = tmp_path / "tenants.toml"
    lines = [
        "[tenants.acme]",
        f"allowed_hosts = {toml_value(list(hosts))}",
        "[[tenants.acme.connectors]]",
    ]
    lines += [f"{k} = {toml_value(v)}" for k, v in conn.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def load(tmp_path: Path, conn: dict[str, Any], *, private: bool = False, **kw: Any) -> Any:
    settings = make_settings(
        "pltest-conn",
        tenants_file=write(tmp_path, conn, **kw),
        allow_private_networks=str(private).lower(),
    )
    return load_tenants(settings, {"ACME_ORDERS_TOKEN": TOKEN})


def test_a_good_connector_loads_with_its_secret_resolved(tmp_path: Path) -> None:
    tenants = load(tmp_path, connector())
    (found,) = tenants.connectors["acme"]
    assert found.headers == {"Authorization": f"Bearer {TOKEN}"}
    # the token is one of the values no reply may carry
    assert TOKEN in tenants.secret_values()


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"request": {"url": "https://orders.acme.example/x", "headers": {"X-Key": "${NOPE}"}}},
            "tenant 'acme': connectors.lookup_orders.request.headers.X-Key: NOPE is not set",
        ),
        (
            {"request": {"url": "http://orders.acme.example/x"}},
            "connectors.lookup_orders.request.url: must be https",
        ),
    ],
)
def test_refused_at_start_with_one_line(tmp_path: Path, over: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, connector(**over))
    text = str(caught.value)
    assert message in text and "\n" not in text


def test_plain_http_and_loopback_only_with_the_setting(tmp_path: Path) -> None:
    conn = connector(request={"url": "http://127.0.0.1:9/customers/{requester.id}"})
    with pytest.raises(SettingsError):
        load(tmp_path, conn, hosts=("127.0.0.1",))
    assert load(tmp_path, conn, private=True, hosts=("127.0.0.1",)).connectors["acme"]


@pytest.mark.parametrize(
    ("over", "hosts", "message"),
    [
        ({}, ("other.example",), "host 'orders.acme.example' is not in allowed_hosts"),
        ({"name": "send_reply"}, None, "one of the agent's own tools"),
        (
            {"request": {"url": "https://{host}/x"}},
            None,
            "the scheme, host and port must be fixed text",
        ),
        (
            {"request": {"url": "https://orders.acme.example/{order}"}},
            None,
            "{order} is neither a parameter nor one of {requester.email}, {requester.id}",
        ),
        (
            {"parameters": {"properties": {"requester_id": {"type": "string"}}}},
            None,
            "parameter 'requester_id' names a person or tenant",
        ),
        (
            {"parameters": {"properties": {"n": {"type": "integer"}}, "required": ["m"]}},
            None,
            "required parameter 'm' is not a property",
        ),
        ({"timeout_s": 30}, None, "timeout_s: Input should be less than or equal to 5"),
        ({"response": {"max_bytes": 50_000_000}}, None, "response.max_bytes"),
        ({"response": {"projection": {"a": "orders"}}}, None, "a JSON pointer starts with '/'"),
        ({"surprise": 1}, None, "surprise: Extra inputs are not permitted"),
        (
            {"request": {"url": "https://u:p@orders.acme.example/x"}},
            None,
            "url: no user or password in it",
        ),
        (
            {"request": {"url": "https://orders.acme.example/x", "headers": {"X": "a\r\nHost: y"}}},
            None,
            "headers.X: control characters are not allowed",
        ),
        (
            {"parameters": {"properties": {"q": {"type": "string", "minimum": 1}}}},
            None,
            "minimum and maximum are for integers and numbers",
        ),
    ],
)
def test_bad_declarations_name_the_field(
    tmp_path: Path, over: dict[str, Any], hosts: tuple[str, ...] | None, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, connector(**over), hosts=hosts or ("orders.acme.example",))
    text = str(caught.value)
    assert "tenant 'acme'" in text and message in text, text
    assert TOKEN not in text and "\n" not in text
