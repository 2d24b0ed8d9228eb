"""`paceline tenants check FILE | list | show T`: the tenants file, read as the processes read it.

`check` validates a file without starting anything: the shape (one line naming the tenant and
the field), every environment variable it names set, every model it names priced. `list` and
`show` read `PACELINE_TENANTS_FILE`; they never print a secret, only the names of the
variables that hold them and whether each is set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.cli.output import print_table, show
from shared.errors import SettingsError
from shared.settings import Settings, price_table
from shared.tenants import Tenant, TenantsFile, read_tenants_file, resolve_tenants


def _read(path: Path) -> TenantsFile:
    try:
        return read_tenants_file(path)
    except SettingsError as exc:
        fail(str(exc), Exit.CONFIG)


def _configured(settings: Settings) -> TenantsFile:
    if settings.tenants_file is None:
        return TenantsFile()
    return _read(settings.tenants_file)


def _is_set(name: str | None, env: dict[str, str]) -> bool:
    return bool(name) and bool(env.get(name or ""))


def profile_doc(name: str, tenant: Tenant, env: dict[str, str]) -> dict[str, Any]:
    """The profile as `show --json` prints it: secrets by variable name and whether set."""
    doc = tenant.model_dump(
        mode="json",
        exclude={"webhooks", "vendors", "tenant_daily_cap_usd", "requester_daily_cap_usd"},
    )
    doc["tenant"] = name
    doc["tenant_daily_cap_micros"] = tenant.tenant_cap_micros
    doc["requester_daily_cap_micros"] = tenant.requester_cap_micros
    doc["webhooks"] = {
        source: {"secret_env": key.secret_env, "set": _is_set(key.secret_env, env)}
        for source, key in sorted(tenant.webhooks.items())
    }
    doc["vendors"] = {
        source: {
            **account.model_dump(mode="json", exclude={"token_env"}),
            "token_env": account.token_env,
            "token_set": _is_set(account.token_env, env),
        }
        for source, account in sorted(tenant.vendors.items())
    }
    doc["escalation"] = tenant.escalation.label() if tenant.escalation else None
    return doc


def _environment() -> dict[str, str]:
    from dotenv import dotenv_values

    found = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    return found | dict(os.environ)


def register(app: typer.Typer) -> None:
    tenants = typer.Typer(help="The tenants file: check, list, show.", no_args_is_help=True)
    app.add_typer(tenants, name="tenants")

    @tenants.command("check")
    def check(
        file: Annotated[Path, typer.Argument(help="A tenants file (TOML).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Validate a tenants file as a process would at start, without starting anything:
        its shape, every variable it names set, every model it names priced."""
        settings = settings_or_exit()
        parsed = _read(file)
        try:
            resolve_tenants(
                parsed,
                prices=price_table(settings),
                allow_private=settings.allow_private_networks,
            )
        except SettingsError as exc:
            fail(str(exc), Exit.CONFIG)
        names = sorted(parsed.tenants)
        if as_json:
            print_json({"ok": True, "file": str(file), "tenants": names})
        else:
            typer.echo(f"ok: {file}: {len(names)} tenants ({', '.join(names) or 'none'})")

    @tenants.command("list")
    def list_(
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """The tenants of PACELINE_TENANTS_FILE, one a line."""
        parsed = _configured(settings_or_exit())
        env = _environment()
        docs = [profile_doc(n, t, env) for n, t in sorted(parsed.tenants.items())]
        if as_json:
            print_json(docs)
            return
        print_table(
            ("tenant", "display name", "reply mode", "model", "rollout %", "webhooks", "vendors"),
            [
                (
                    d["tenant"],
                    d["display_name"],
                    d["reply_mode"],
                    d["model"],
                    d["rollout_pct"],
                    list(d["webhooks"]),
                    list(d["vendors"]),
                )
                for d in docs
            ],
            title=f"{len(docs)} tenants",
            right=("rollout %",),
        )

    @tenants.command("show")
    def show_(
        tenant: Annotated[str, typer.Argument(help="A tenant id.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """One tenant's profile; secrets by the variable that holds them and whether it is set."""
        parsed = _configured(settings_or_exit())
        found = parsed.tenants.get(tenant)
        if found is None:
            fail(f"no tenant {tenant!r} in the tenants file", Exit.USAGE)
        doc = profile_doc(tenant, found, _environment())
        if as_json:
            print_json(doc)
        else:
            show(doc, title=f"tenant {tenant}", first=("tenant", "display_name", "reply_mode"))
