"""The one guard for requests paceline sends to URLs it did not configure itself: a ticket's
callback, a vendor's note API (its path carries a ticket's id), the alert webhook, and any
tenant connector. The provider endpoint is the operator's own and does not pass here.

The rule: no loopback, private, link-local, multicast, unspecified or otherwise non-public
address (nor an IPv4-mapped, 6to4 or Teredo IPv6 form of one), unless
`PACELINE_ALLOW_PRIVATE_NETWORKS=true` (tests, single-machine demos). It is applied twice:
- at ingest, `url_problem` refuses what can be seen without DNS (address literals, including
  the old numeric forms such as `127.1`, and `localhost` names), so the sender gets a 422;
- at send time, `OutboundClient` resolves the name once, refuses the request if any address
  is forbidden, and connects to the address it checked, with the name in `Host` and in TLS's
  SNI and certificate check. A DNS answer that changes between check and connect (rebinding)
  therefore cannot move the request. Redirects are never followed, proxies never used.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from shared.errors import OutboundRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses to try, best first (socket.getaddrinfo's order).
Resolver = Callable[[str, int], list[str]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not `is_private`
_SETTING = "PACELINE_ALLOW_PRIVATE_NETWORKS"


def address_problem(ip: IPAddress) -> str | None:
    """The kind of address `ip` is when requests may not go there, else None."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded)
    # Loopback and link-local are also "private": name the most specific kind first.
    for kind, hit in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private or ip in _SHARED),
        ("reserved", ip.is_reserved),
    ):
        if hit:
            return kind
    return None if ip.is_global else "non-public"


def literal_ip(host: str) -> IPAddress | None:
    """`host` as an address when it is one, including the forms only C resolvers accept
    (`127.1`, `2130706433`, `0x7f.0.0.1`), which would otherwise look like names."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def url_problem(url: str, allow_private: bool) -> str | None:
    """Why a request to `url` would be refused, as far as can be told without DNS."""
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return "not a valid URL"
    if target.scheme not in ("http", "https"):
        return "must be an http(s) URL"
    if not target.host:
        return "has no host"
    if allow_private:
        return None
    name = target.host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return f"names a loopback host ({_SETTING} is off)"
    ip = literal_ip(name)
    kind = address_problem(ip) if ip is not None else None
    return f"names a {kind} address ({_SETTING} is off)" if kind else None


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class OutboundClient:
    """An HTTP client whose every request passes the guard; one per process, thread-safe."""

    def __init__(
        self,
        *,
        allow_private: bool,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 3.0,
        resolver: Resolver | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._resolve = resolver or system_resolver
        timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        common: dict[str, Any] = {"timeout": timeout, "follow_redirects": False, "trust_env": False}
        self._plain = httpx.Client(**common)
        # Connections are pooled by address: a kept-alive TLS connection made for one name
        # could carry a request for another name on the same address, so TLS keeps none.
        self._tls = httpx.Client(**common, limits=httpx.Limits(max_keepalive_connections=0))

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send to the checked address; OutboundRefused when the URL or an address is not
        allowed, httpx.HTTPError (transient) when the name does not resolve or the send fails."""
        client, request = self._build(method, url, json=json, headers=headers, timeout=timeout)
        return client.send(request)

    @contextmanager
    def stream(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Iterator[httpx.Response]:
        """As `request`, with the body left unread: the caller reads it in chunks (and may
        stop at a size cap without holding the rest)."""
        client, request = self._build(method, url, json=json, headers=headers, timeout=timeout)
        response = client.send(request, stream=True)
        try:
            yield response
        finally:
            response.close()

    def _build(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        headers: dict[str, str] | None,
        timeout: float | None,
    ) -> tuple[httpx.Client, httpx.Request]:
        target, address = self.pin(url)
        host = target.raw_host.decode("ascii")
        pinned = target.copy_with(host=address)
        extensions: dict[str, Any] = {}
        if target.scheme == "https" and literal_ip(host) is None:
            extensions["sni_hostname"] = host
        client = self._tls if target.scheme == "https" else self._plain
        request = client.build_request(
            method,
            pinned,
            json=json,
            headers={**(headers or {}), "Host": target.netloc.decode("ascii")},
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            extensions=extensions,
        )
        return client, request

    def pin(self, url: str) -> tuple[httpx.URL, str]:
        """The URL and the one address the request will go to, checked."""
        problem = url_problem(url, self._allow_private)
        if problem is not None:
            raise OutboundRefused(f"refused: {problem}")
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")
        port = target.port or (443 if target.scheme == "https" else 80)
        literal = literal_ip(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = self._resolve(host, port)
            except (OSError, UnicodeError) as exc:
                raise httpx.ConnectError(f"could not resolve: {type(exc).__name__}") from None
        if not addresses:
            raise httpx.ConnectError("the name resolved to no address")
        for address in addresses:
            kind = address_problem(ipaddress.ip_address(address))
            if kind is not None and not self._allow_private:
                raise OutboundRefused(f"refused: resolves to a {kind} address ({_SETTING} is off)")
        return target, addresses[0]

    def close(self) -> None:
        self._plain.close()
        self._tls.close()
