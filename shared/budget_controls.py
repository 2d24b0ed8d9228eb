"""Changing the caps and the kill switch at runtime: `paceline budget set|unset|pause|resume`.

Every change is one line of the audit (`<ns>:caps:audit`, newest first, the last 1,000): who,
when, what, the value it replaced (the default when no override was set) and why. Scopes are
checked before anything is written: `global`, `tenant:*`, `user:*`, `tenant:<id>`,
`user:<tenant>:<id>`; only `global` and `tenant:<id>` can be paused.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from shared.clock import Clock, now_ms
from shared.history.emit import cap_fields
from shared.ledger import Ledger
from shared.models import printable_id
from shared.money import usd_to_micros
from shared.settings import Settings
from shared.stores.budget_pause import BudgetPause
from shared.tenants import DEFAULT_PROFILE, Tenant

AUDIT_KEEP = 1000
# A change bigger than this factor either way, or any change of the global ceiling, must be
# confirmed (`--yes`): a typo of one zero should not go live unasked.
CONFIRM_FACTOR = 10
_TENANT = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
SCOPE_HELP = "global | tenant:<id> | tenant:* | user:<tenant>:<id> | user:*"


class ScopeError(ValueError):
    """Raised when a scope is not one of the forms above (the message shows them)."""


def check_scope(scope: str, *, pausable: bool = False) -> str:
    if scope == "global":
        return scope
    kind, _, rest = scope.partition(":")
    if pausable:
        if kind == "tenant" and _TENANT.match(rest):
            return scope
        raise ScopeError(f"cannot pause {scope!r}: use global or tenant:<id>")
    if kind in ("tenant", "user") and rest == "*":
        return scope
    if kind == "tenant" and _TENANT.match(rest):
        return scope
    if kind == "user":
        tenant, _, requester = rest.partition(":")
        if _TENANT.match(tenant) and requester and len(requester) <= 200:
            try:
                printable_id(requester)
            except ValueError as exc:
                raise ScopeError(f"bad requester id in {scope!r}: {exc}") from None
            if not any(ch.isspace() for ch in requester):
                return scope
    raise ScopeError(f"unknown scope {scope!r}: use {SCOPE_HELP}")


@dataclass(frozen=True)
class CapChange:
    """A cap change before it is made: what it replaces, and whether it needs a yes."""

    scope: str
    old_micros: int
    old_is_default: bool
    new_micros: int

    @property
    def needs_confirmation(self) -> bool:
        if self.scope == "global":
            return True
        low, high = sorted((self.old_micros, self.new_micros))
        return low > 0 and high > CONFIRM_FACTOR * low


class BudgetControls:
    def __init__(
        self,
        ledger: Ledger,
        settings: Settings,
        clock: Clock,
        profile: Callable[[str], Tenant] = lambda _tenant: DEFAULT_PROFILE,
    ) -> None:
        """`profile`: a tenant's profile, whose caps are that tenant's defaults."""
        self._profile = profile
        self._ledger = ledger
        self._settings = settings
        self._clock = clock
        self._r = ledger._r
        self._keys = ledger._keys
        self.pauses = BudgetPause(self._r, self._keys, clock)

    def default_micros(self, scope: str) -> int:
        """What a scope's cap is without an override of its own."""
        caps = self._ledger.caps()
        s = self._settings
        if scope == "global":
            return s.ceiling_micros
        if scope == "tenant:*":
            return s.tenant_cap_micros
        if scope == "user:*":
            return s.user_cap_micros
        if scope.startswith("tenant:"):
            own = self._profile(scope.removeprefix("tenant:")).tenant_cap_micros
            return own if own is not None else caps.get("tenant:*", s.tenant_cap_micros)
        tenant = scope.removeprefix("user:").partition(":")[0]
        own = self._profile(tenant).requester_cap_micros
        return own if own is not None else caps.get("user:*", s.user_cap_micros)

    def plan_set(self, scope: str, usd: str) -> CapChange:
        check_scope(scope)
        try:
            micros = usd_to_micros(usd)
        except ArithmeticError:
            raise ValueError(f"not an amount in USD: {usd!r} (e.g. 25 or 0.50)") from None
        if micros <= 0:
            raise ValueError("a cap must be more than $0 (to stop spending: budget pause)")
        old = self._ledger.caps().get(scope)
        current = old if old is not None else self.default_micros(scope)
        return CapChange(scope, current, old is None, micros)

    def apply_set(self, change: CapChange, *, who: str | None, note: str) -> dict[str, Any]:
        entry = self._entry("set", change.scope, who, note)
        entry.update(old_micros=change.old_micros, old_default=change.old_is_default)
        entry["new_micros"] = change.new_micros
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self._keys.caps, change.scope, change.new_micros)
        self._audit(pipe, entry)
        old = None if change.old_is_default else change.old_micros
        self._history(pipe, entry, old, change.new_micros)
        pipe.execute()
        return entry

    def unset(self, scope: str, *, who: str | None, note: str) -> dict[str, Any] | None:
        """Drop a scope's override (it falls back to its default); None when it had none."""
        check_scope(scope)
        old = self._ledger.caps().get(scope)
        if old is None:
            return None
        entry = self._entry("unset", scope, who, note)
        pipe = self._r.pipeline(transaction=True)
        pipe.hdel(self._keys.caps, scope)
        entry.update(old_micros=old, new_micros=None)
        self._audit(pipe, entry)
        self._history(pipe, entry, old, None)
        pipe.execute()
        entry["new_micros"] = self.default_micros(scope)
        entry["new_default"] = True
        return entry

    def pause(self, scope: str, *, who: str | None, reason: str) -> dict[str, Any]:
        check_scope(scope, pausable=True)
        entry = self._entry("pause", scope, who, reason)
        self.pauses.pause(scope, who=entry["who"], reason=reason)
        self._write_audit(entry)
        return entry

    def resume(self, scope: str, *, who: str | None, note: str) -> dict[str, Any] | None:
        check_scope(scope, pausable=True)
        was, released = self.pauses.resume(scope)
        if not was:
            return None
        entry = self._entry("resume", scope, who, note)
        entry["released"] = released
        self._write_audit(entry)
        return entry

    def audit(self, limit: int) -> list[dict[str, Any]]:
        raw = cast(list[str], self._r.lrange(self._keys.caps_audit, 0, limit - 1))
        return [_normalised(json.loads(row)) for row in raw]

    def _entry(self, action: str, scope: str, who: str | None, note: str) -> dict[str, Any]:
        return {
            "at_ms": now_ms(self._clock),
            "who": who or getpass.getuser(),
            "action": action,
            "scope": scope,
            "note": note,
        }

    def _audit(self, pipe: Any, entry: dict[str, Any]) -> None:
        pipe.lpush(self._keys.caps_audit, json.dumps(entry))
        pipe.ltrim(self._keys.caps_audit, 0, AUDIT_KEEP - 1)

    def _history(self, pipe: Any, entry: dict[str, Any], old: int | None, new: int | None) -> None:
        """The audit list keeps the last 1,000 changes; the history database keeps every one
        (the event goes in the same MULTI as the change)."""
        fields = cap_fields(
            scope=entry["scope"], old_micros=old, new_micros=new, who=entry["who"],
            note=entry["note"], at_ms=entry["at_ms"],
        )  # fmt: skip
        pipe.xadd(self._keys.history_stream, fields)

    def _write_audit(self, entry: dict[str, Any]) -> None:
        pipe = self._r.pipeline(transaction=True)
        self._audit(pipe, entry)
        pipe.execute()


def _normalised(row: dict[str, Any]) -> dict[str, Any]:
    """An audit line in today's shape (older lines held seconds and dollars)."""
    if "at_ms" not in row and "at" in row:
        row["at_ms"] = int(row.pop("at")) * 1000
    for side in ("old", "new"):
        usd = row.pop(f"{side}_usd", None)
        if f"{side}_micros" not in row:
            row[f"{side}_micros"] = None if usd is None else usd_to_micros(str(usd))
    row.setdefault("action", "set")
    return row
