"""The outbound guard: which addresses are refused, and that a request goes to the address
that was checked (never to a second DNS answer), with the name in Host; no redirects."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import httpx
import pytest

from shared.errors import OutboundRefused
from shared.outbound import OutboundClient, address_problem, system_resolver, url_problem
from tests.workers.replies.standin import StandIn, standin_server

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "private",
    "fc00::1": "private",
    "169.254.169.254": "link-local",
    "fe80::1": "link-local",
    "224.0.0.251": "multicast",
    "ff02::1": "multicast",
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "::ffff:169.254.169.254": "link-local",
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::": "link-local",  # 6to4 of 169.254.169.254
    "64:ff9b::a00:1": "private",  # NAT64 of 10.0.0.1
}


@pytest.mark.parametrize(("address", "kind"), REFUSED.items())
def test_non_public_addresses_are_refused_by_kind(address: str, kind: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:6379/",
        "http://[::1]:8080/ops",
        "http://[::ffff:127.0.0.1]/x",
        "http://localhost:9000/replies",
        "http://api.localhost/x",
        "http://127.1/",  # the forms only C resolvers accept
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://10.1.2.3/internal",
    ],
)
def test_urls_naming_private_addresses_are_refused_without_dns(url: str) -> None:
    problem = url_problem(url, allow_private=False)
    assert problem is not None and "PACELINE_ALLOW_PRIVATE_NETWORKS" in problem
    # And the setting lets them through (tests, single-machine demos)
    assert url_problem(url, allow_private=True) is None


def test_only_http_urls_are_accepted() -> None:
    assert url_problem("ftp://example.com/x", allow_private=True) == "must be an http(s) URL"
    assert url_problem("https://example.com/x", allow_private=False) is None


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with standin_server() as server:
        yield server


def test_the_request_goes_to_the_address_that_was_checked(standin: StandIn) -> None:
    # Given a name no DNS knows, which our resolver answers with the stand-in's address
    port = int(standin.url.rsplit(":", 1)[1])
    asked: list[str] = []

    def resolver(host: str, _port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    client = OutboundClient(allow_private=True, resolver=resolver)
    try:
        # When a request is sent to that name
        resp = client.request("POST", f"http://hooks.paceline.test:{port}/replies", json={})
    finally:
        client.close()
    # Then the name was resolved once, the connection went to that address (httpx never
    # resolved the name itself: it could not have), and the name travelled in Host
    assert resp.status_code == 200 and asked == ["hooks.paceline.test"]
    assert standin.requests[0].headers["host"] == f"hooks.paceline.test:{port}"


def test_a_name_with_any_private_answer_is_refused(standin: StandIn) -> None:
    # Given a name answered with a public address and a loopback one (a rebinding setup)
    def resolver(_host: str, _port: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"]

    client = OutboundClient(allow_private=False, resolver=resolver)
    try:
        # When a request is sent / Then it is refused before any connection
        with pytest.raises(OutboundRefused, match="loopback"):
            client.request("POST", "http://rebind.paceline.test/x", json={})
    finally:
        client.close()


def test_a_real_name_resolving_to_this_machine_is_refused_at_send_time(standin: StandIn) -> None:
    # Given this machine's own name: no ingest check can tell it is local, only DNS can
    name = socket.gethostname()
    try:
        addresses = system_resolver(name, 80)
    except OSError:
        pytest.skip("this machine's name does not resolve")
    if all(address_problem(ipaddress.ip_address(a)) is None for a in addresses):
        pytest.skip("this machine's name resolves to a public address")
    port = int(standin.url.rsplit(":", 1)[1])
    assert url_problem(f"http://{name}:{port}/x", allow_private=False) is None
    client = OutboundClient(allow_private=False)
    try:
        # When a request is sent to it / Then it is refused once resolved, before connecting
        with pytest.raises(OutboundRefused, match="resolves to a"):
            client.request("POST", f"http://{name}:{port}/x", json={})
        # And a name that does not resolve is a transient network error, not a refusal
        with pytest.raises(httpx.ConnectError):
            client.request("POST", "http://no-such-host.invalid/x", json={})
    finally:
        client.close()
    assert standin.requests == []


def test_redirects_are_not_followed(standin: StandIn) -> None:
    # Given a receiver that answers 307 to the metadata service
    standin.status = 307
    client = OutboundClient(allow_private=True)
    try:
        resp = client.request("POST", f"{standin.url}/x", json={})
    finally:
        client.close()
    # Then the 307 is the answer: nothing follows it
    assert resp.status_code == 307 and len(standin.requests) == 1
