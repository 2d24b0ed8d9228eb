"""Hot reload: the real loader on a real file, time from an injected monotonic clock."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from shared.pricing import PriceTable
from shared.tenants import TenantRegistry, install, load_tenants, profile_for
from shared.tenants.registry import CHECK_INTERVAL_S, _installed
from tests.conftest import make_settings

V1 = '[tenants.acme]\ndisplay_name = "Acme"\nreply_mode = "draft"\n'
V2 = '[tenants.acme]\ndisplay_name = "Acme Outdoor"\nreply_mode = "public"\n'


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _write(path: Path, text: str, bump_s: int) -> None:
    path.write_text(text)
    st = path.stat()
    # A distinct mtime even on file systems with coarse timestamps.
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump_s * 1_000_000_000))


def _registry(path: Path, clock: Monotonic) -> TenantRegistry:
    settings = make_settings("pltest-reload", tenants_file=path)
    prices = PriceTable.load()
    return TenantRegistry(
        load_tenants(settings, {}, prices), path, prices=prices, environ={}, monotonic=clock
    )


def test_a_change_is_picked_up_within_the_check_interval(tmp_path: Path) -> None:
    # Given a registry over a file, and the file changed
    path, clock = tmp_path / "tenants.toml", Monotonic()
    _write(path, V1, 0)
    registry = _registry(path, clock)
    assert registry.profile("acme").reply_mode == "draft"
    _write(path, V2, 5)
    # When less than the interval has passed / Then the loaded profile is kept (no stat)
    clock.now += CHECK_INTERVAL_S - 1
    assert registry.profile("acme").reply_mode == "draft"
    # When the interval has passed (well inside the 30 s promise) / Then the new one is used
    clock.now += 1
    assert CHECK_INTERVAL_S < 30
    assert registry.profile("acme").reply_mode == "public"
    assert registry.profile("acme").display_name == "Acme Outdoor"
    assert registry.version == 1


def test_a_bad_new_file_keeps_the_last_good_one_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, clock = tmp_path / "tenants.toml", Monotonic()
    _write(path, V1, 0)
    registry = _registry(path, clock)
    # Given an edit that breaks the file (a typo in a field, then a missing variable)
    _write(path, V1 + 'reply_mod = "public"\n', 5)
    with caplog.at_level(logging.WARNING, logger="paceline.tenants"):
        clock.now += CHECK_INTERVAL_S
        kept = registry.profile("acme")
        _write(path, V1 + 'reply_mod = "public"\n', 9)  # touched again, same bad content
        clock.now += CHECK_INTERVAL_S
        registry.profile("acme")
    # Then the last good profile is still served, and one line said why
    assert kept.reply_mode == "draft" and registry.version == 0
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "keeping the last good one" in lines[0]
    assert "reply_mod" in lines[0]
    # And once it is fixed, the fix is used
    _write(path, V2, 20)
    clock.now += CHECK_INTERVAL_S
    assert registry.profile("acme").reply_mode == "public"


def test_a_missing_variable_in_a_new_file_is_refused_like_at_start(tmp_path: Path) -> None:
    path, clock = tmp_path / "tenants.toml", Monotonic()
    _write(path, V1, 0)
    registry = _registry(path, clock)
    _write(path, V1 + '[tenants.acme.vendors.front]\ntoken_env = "ACME_FRONT_TOKEN"\n', 5)
    clock.now += CHECK_INTERVAL_S
    assert registry.profile("acme").vendors == {}
    assert registry.version == 0


def test_touching_the_file_without_changing_it_reloads_nothing(tmp_path: Path) -> None:
    path, clock = tmp_path / "tenants.toml", Monotonic()
    _write(path, V1, 0)
    registry = _registry(path, clock)
    _write(path, V1, 5)
    clock.now += CHECK_INTERVAL_S
    assert registry.profile("acme").display_name == "Acme" and registry.version == 0


def test_profile_for_reads_the_installed_registry(tmp_path: Path) -> None:
    path, clock = tmp_path / "tenants.toml", Monotonic()
    _write(path, V1 + "max_auto_replies = 5\n", 0)
    saved = list(_installed)
    try:
        _installed.clear()
        assert profile_for("acme").max_auto_replies == 3  # nothing installed: the defaults
        install(_registry(path, clock))
        assert profile_for("acme").max_auto_replies == 5
        assert profile_for("globex").max_auto_replies == 3
    finally:
        _installed[:] = saved


def test_the_conversation_engine_reads_each_tenants_reply_limit(tmp_path: Path) -> None:
    from shared.conversation.caps import max_auto_replies

    path, clock = tmp_path / "tenants.toml", Monotonic()
    _write(path, V1 + "max_auto_replies = 1\n", 0)
    registry = _registry(path, clock)
    assert max_auto_replies(registry, "acme") == 1
    assert max_auto_replies(registry, "globex") == 3
