"""A tenants file's connectors follow the file in a running process: added, changed and
removed without a restart, through the real registry, a real file and a real local service."""

from __future__ import annotations

import os
from pathlib import Path

from shared.connectors import ConnectorCaller, ConnectorDirectory, Requester
from shared.outbound import OutboundClient
from shared.pricing import PriceTable
from shared.tenants import TenantRegistry, load_tenants
from shared.tenants.registry import CHECK_INTERVAL_S
from tests.conftest import make_settings
from tests.shared.connectors.service import local_service


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _file(path: Path, body: str, bump_s: int) -> None:
    path.write_text('[tenants.acme]\nallowed_hosts = ["127.0.0.1"]\n' + body)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump_s * 1_000_000_000))


def _connector(name: str, url: str) -> str:
    return (
        f'[[tenants.acme.connectors]]\nname = "{name}"\ndescription = "This customer\'s orders"\n'
        f'request = {{ url = "{url}/customers/{{requester.id}}" }}\n'
    )


def test_connectors_added_changed_and_removed_reach_a_running_directory(tmp_path: Path) -> None:
    with local_service() as first, local_service() as second:
        # Given a running directory over a tenants file with one connector
        path, clock = tmp_path / "tenants.toml", Monotonic()
        _file(path, _connector("lookup_orders", first.url), 0)
        settings = make_settings("pltest-connector-reload", tenants_file=path)
        prices = PriceTable.load()
        registry = TenantRegistry(
            load_tenants(settings, {}, prices),
            path,
            prices=prices,
            environ={},
            monotonic=clock,
            allow_private=True,
        )

        def now() -> tuple[int, dict]:  # type: ignore[type-arg]
            loaded = registry.current()
            return registry.version, dict(loaded.connectors)

        caller = ConnectorCaller(OutboundClient(allow_private=True), owns_http=True)
        directory = ConnectorDirectory(registry.current().connectors, caller, reload=now)
        who = Requester(id="u-1", email="u1@example.test")
        try:
            assert directory.names("acme") == {"lookup_orders"}
            assert directory.call("acme", "lookup_orders", {}, who).status == "ok"
            assert first.paths == ["/customers/u-1"]

            # When the file points the connector elsewhere and adds a second one
            _file(
                path,
                _connector("lookup_orders", second.url) + _connector("account_status", first.url),
                5,
            )
            clock.now += CHECK_INTERVAL_S
            # Then the running directory offers both, and the changed one calls its new host
            assert directory.names("acme") == {"lookup_orders", "account_status"}
            assert len(directory.schemas("acme")) == 2
            assert directory.call("acme", "lookup_orders", {}, who).status == "ok"
            assert second.paths == ["/customers/u-1"] and len(first.paths) == 1

            # When the connectors are removed from the file
            _file(path, "", 9)
            clock.now += CHECK_INTERVAL_S
            # Then they are gone: a call is denied and no service hears of it
            assert directory.names("acme") == frozenset()
            assert directory.call("acme", "lookup_orders", {}, who).status == "denied"
            assert len(first.paths) == 1 and len(second.paths) == 1
        finally:
            directory.close()
