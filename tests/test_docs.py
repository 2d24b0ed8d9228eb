"""The documentation: README.md stays newcomer-sized and links every page of docs/, and
together they name every setting, every command and only paths that exist."""

from __future__ import annotations

import re
from pathlib import Path

from shared.cli.main import build_app
from shared.settings import ENV_PREFIX, WEBHOOK_SOURCES, Settings
from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
# Paths the docs name in backticks, e.g. `workers/admission/batch.py` or `deploy/k8s/`.
_PATH = re.compile(r"`((?:shared|producers|workers|tests|deploy|docs)/[^`\s]*)`")
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def pages() -> list[Path]:
    return [README, *DOCS]


def text_of(*paths: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in paths)


def test_the_readme_is_newcomer_sized_and_links_every_page_of_docs() -> None:
    assert DOCS, "docs/ has no pages"
    assert README.stat().st_size <= 14_000, "README.md grew: reference material goes in docs/"
    readme = README.read_text(encoding="utf-8")
    for page in DOCS:
        assert f"docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"


def test_every_link_and_named_path_exists() -> None:
    missing = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        targets = [m for m in _LINK.findall(text) if "://" not in m]
        targets += [m for m in _PATH.findall(text) if not re.search(r"[<>*{}…]", m)]
        for target in targets:
            base = page.parent if target.startswith(".") else ROOT
            if not (base / target.rstrip(".,;:")).exists():
                missing.append(f"{page.relative_to(ROOT)}: {target}")
    assert not missing, "\n".join(missing)


def test_every_setting_is_documented() -> None:
    docs = text_of(*pages())
    undocumented = []
    for name in Settings.model_fields:
        env = ENV_PREFIX + name.upper()
        if name.startswith("webhook_secret_"):
            source = name.removeprefix("webhook_secret_").upper()
            documented = f"{ENV_PREFIX}WEBHOOK_SECRET_<SOURCE>" in docs and source in docs
        else:
            documented = env in docs
        if not documented:
            undocumented.append(env)
    assert not undocumented, f"settings missing from README.md and docs/: {undocumented}"
    assert {s.upper() for s in WEBHOOK_SOURCES} <= set(re.findall(r"[A-Z]+", docs))


def test_every_command_is_in_the_readme() -> None:
    app = build_app()
    names = {c.name for c in app.registered_commands if c.name} | {
        g.name for g in app.registered_groups if g.name
    }
    names |= {c.callback.__name__ for c in app.registered_commands if not c.name and c.callback}
    readme = README.read_text(encoding="utf-8")
    assert names, "no commands found"
    missing = sorted(n for n in names if not re.search(rf"\b{re.escape(n)}\b", readme))
    assert not missing, f"commands not in README.md: {missing}"


# A setting's name as the code spells it: `PACELINE_` and the rest in capitals.
_SETTING = re.compile(r"\bPACELINE_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def test_every_setting_the_code_reads_is_in_the_readme_or_the_settings_page() -> None:
    """Every field of `Settings`, and every `PACELINE_*` name the code spells out (in a message,
    a child's environment, a hint), must be findable where an operator looks: the README or
    docs/settings.md. A new setting left out of both fails here."""
    documented = text_of(README, ROOT / "docs" / "settings.md")
    names = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    for package in ("shared", "producers", "workers"):
        for path in (ROOT / package).rglob("*.py"):
            names |= set(_SETTING.findall(path.read_text(encoding="utf-8")))
    secret = f"{ENV_PREFIX}WEBHOOK_SECRET_"
    missing = sorted(
        name
        for name in names
        if name not in documented
        and not (name.startswith(secret) and f"{secret}<SOURCE>" in documented)
    )
    assert not missing, (
        f"settings the code reads, missing from README.md and docs/settings.md: {missing}"
    )
