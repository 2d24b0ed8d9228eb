"""`paceline kb`: import a tenant's help centre, search it, inspect it, evaluate it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit

if TYPE_CHECKING:
    from shared.knowledge import Importer, ImportSummary, KnowledgeStore, Searcher
    from shared.knowledge.spend import CallBudget
    from shared.settings import Settings

Tenant = Annotated[str, typer.Option("--tenant", "-t", help="The tenant whose help centre.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
SHOWN_SKIPS = 20


@dataclass
class _Services:
    settings: Settings
    store: KnowledgeStore
    searcher: Searcher
    importer: Callable[..., Importer]
    spend: Callable[[str], CallBudget]  # pays a priced embedder's query vectors


@contextmanager
def _services(settings: Settings | None = None) -> Iterator[_Services]:
    import redis

    from shared.clock import SystemClock
    from shared.keys import Keys
    from shared.knowledge import Importer, IndexCache, KnowledgeStore, Searcher, build_embedder
    from shared.knowledge.spend import KnowledgeSpend
    from shared.pricing import PriceTable
    from shared.redis_client import make_redis

    settings = settings or settings_or_exit()
    client = make_redis(settings, max_connections=4)
    keys = Keys(settings.namespace)
    clock = SystemClock()
    prices = PriceTable.load(settings.pricing_file)
    store = KnowledgeStore(client, keys)
    embedder = build_embedder(settings)

    def spend(tenant: str) -> KnowledgeSpend:
        return KnowledgeSpend(client, keys, settings, clock, tenant)

    def importer(**kwargs: Any) -> Importer:
        return Importer(store, embedder, prices=prices, spend=spend, **kwargs)

    cache = IndexCache(store, clock, refresh_s=0.0)
    try:
        yield _Services(settings, store, Searcher(cache, embedder, prices), importer, spend)
    except redis.ConnectionError:
        fail(f"cannot reach Redis at {settings.redis_url.split('@')[-1]}", Exit.UNAVAILABLE)
    finally:
        store.close()
        client.close()


@contextmanager
def _errors() -> Iterator[None]:
    from shared.errors import ImportOverBudget, KnowledgeError

    try:
        yield
    except ImportOverBudget as exc:
        fail(str(exc), Exit.REFUSED)
    except KnowledgeError as exc:
        fail(str(exc), Exit.FAILED)


def run_import(
    settings: Settings | None,
    path: str,
    tenant: str,
    *,
    fmt: str = "auto",
    replace_all: bool = False,
    dry_run: bool = False,
    locales: list[str] | None = None,
    stdin: bytes | None = None,
    show_progress: bool = False,
) -> ImportSummary:
    """What `paceline kb import` does (the demo imports its help centre through it too).
    Raises KnowledgeError / ImportOverBudget; `settings` None reads the environment."""
    from shared.knowledge import read_source

    parsed = read_source(path, fmt, stdin=stdin)
    with _services(settings) as services, _progress(show_progress) as progress:
        importer = services.importer(progress=progress)
        return importer.run(
            tenant, parsed, replace_all=replace_all, dry_run=dry_run, locales=locales
        )


def _index_or_exit(services: _Services, tenant: str) -> Any:
    from shared.knowledge.importer import check_tenant

    index = services.searcher.cache.get(check_tenant(tenant))
    if index is None:
        fail(f"tenant {tenant!r} has no help centre (paceline kb import PATH --tenant {tenant})")
    return index


def register(app: typer.Typer) -> None:
    kb = typer.Typer(help="Each tenant's help centre: import, search, inspect, evaluate.")
    app.add_typer(kb, name="kb")

    @kb.command("import")
    def import_(
        path: Annotated[str, typer.Argument(help="A folder, a file, or - for stdin.")],
        tenant: Tenant,
        fmt: Annotated[
            str,
            typer.Option("--format", help="auto|markdown|html|text|zendesk|intercom|csv"),
        ] = "auto",
        replace: Annotated[
            bool, typer.Option("--replace", help="Remove the articles this import lacks.")
        ] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Report; change nothing.")] = False,
        locales: Annotated[
            str | None,
            typer.Option(
                help="Locales the tenant serves, e.g. en,fr (default: as last time, or en)."
            ),
        ] = None,
        as_json: AsJson = False,
    ) -> None:
        """Import (or re-import) a help centre; all or nothing, idempotent."""
        from shared.knowledge.importers.raw import MAX_EXPORT_BYTES

        served = [loc.strip() for loc in locales.split(",") if loc.strip()] if locales else None
        if path != "-" and not Path(path).exists():
            # A path that is not there is the caller's input error (exit 2), not a failed import.
            fail(f"{path}: no such file or folder", Exit.USAGE)
        with _errors():
            stdin = sys.stdin.buffer.read(MAX_EXPORT_BYTES + 1) if path == "-" else None
            if stdin is not None and len(stdin) > MAX_EXPORT_BYTES:
                fail(f"stdin: over the {MAX_EXPORT_BYTES // 2**20} MB cap", Exit.FAILED)
            summary = run_import(
                None, path, tenant, fmt=fmt, replace_all=replace, dry_run=dry_run,
                locales=served, stdin=stdin, show_progress=not as_json,
            )  # fmt: skip
        _print_summary(summary, as_json)

    @kb.command("search")
    def search(
        query: Annotated[str, typer.Argument(help="What a customer would ask.")],
        tenant: Tenant,
        limit: Annotated[int, typer.Option("--limit", "-k", min=1, max=50)] = 5,
        mode: Annotated[str, typer.Option(help="hybrid|lexical|dense")] = "hybrid",
        as_json: AsJson = False,
    ) -> None:
        """Search one tenant's help centre."""
        from shared.knowledge.search import MODES

        if mode not in MODES:
            fail(f"unknown mode {mode!r} (one of {', '.join(MODES)})", Exit.USAGE)
        with _errors(), _services() as services:
            _index_or_exit(services, tenant)
            budget = services.spend(tenant)
            hits = services.searcher.search(tenant, query, limit, mode=mode, budget=budget)  # type: ignore[arg-type]
        if as_json:
            print_json([h.to_json() for h in hits])
            return
        if not hits:
            typer.echo("no article found")
        for n, hit in enumerate(hits, start=1):
            where = f" > {hit.section}" if hit.section else ""
            typer.echo(f"{n}. {hit.title}{where}  [{hit.id}, {hit.score:.3f}]  {hit.url}")
            typer.echo(f"   {hit.snippet}")

    @kb.command("list")
    def list_(tenant: Tenant, as_json: AsJson = False) -> None:
        """Every article of a tenant."""
        with _errors(), _services() as services:
            index = _index_or_exit(services, tenant)
            rows = [
                {
                    "id": a.id,
                    "title": a.title,
                    "url": a.url,
                    "source": a.source,
                    "locale": a.locale,
                    "sections": len(a.sections),
                    "updated_at": a.updated_at,
                }
                for a in index.articles()
            ]
        if as_json:
            print_json(rows)
            return
        for row in rows:
            typer.echo(f"{row['id']}\t{row['title']}\t{row['url']}")

    @kb.command("show")
    def show(
        article_id: Annotated[str, typer.Argument(metavar="ID")],
        tenant: Tenant,
        as_json: AsJson = False,
    ) -> None:
        """One article with its sections."""
        with _errors(), _services() as services:
            article = _index_or_exit(services, tenant).article(article_id)
        if article is None:
            fail(f"tenant {tenant!r} has no article {article_id!r}")
        if as_json:
            print_json(article.to_json())
            return
        typer.echo(f"{article.title}  ({article.id}, {article.locale}) {article.url}")
        for section in article.sections:
            typer.echo(f"\n## {section.heading}\n" if section.heading else "")
            typer.echo(section.text)

    @kb.command("delete")
    def delete(
        article_id: Annotated[str, typer.Argument(metavar="ID")],
        tenant: Tenant,
        as_json: AsJson = False,
    ) -> None:
        """Remove one article (a new version without it)."""
        with _errors(), _services() as services:
            _index_or_exit(services, tenant)
            summary = services.importer().delete(tenant, article_id)
        _print_summary(summary, as_json)

    @kb.command("stats")
    def stats(tenant: Tenant, as_json: AsJson = False) -> None:
        """What a tenant's help centre holds."""
        with _errors(), _services() as services:
            index = _index_or_exit(services, tenant)
            doc = _stats(index, tenant)
        if as_json:
            print_json(doc)
            return
        for key, value in doc.items():
            typer.echo(f"{key}: {value}")

    @kb.command("eval")
    def eval_(
        questions: Annotated[Path, typer.Argument(metavar="QUESTIONS.jsonl")],
        tenant: Tenant,
        mode: Annotated[str, typer.Option(help="hybrid|lexical|dense")] = "hybrid",
        split: Annotated[
            str | None, typer.Option(help="Only the questions of this split (e.g. heldout).")
        ] = None,
        as_json: AsJson = False,
    ) -> None:
        """Recall@1, recall@3 and MRR of a question set, and each miss."""
        from shared.knowledge.evaluate import evaluate, load_questions
        from shared.knowledge.search import MODES

        if mode not in MODES:
            fail(f"unknown mode {mode!r} (one of {', '.join(MODES)})", Exit.USAGE)
        with _errors(), _services() as services:
            _index_or_exit(services, tenant)
            qs = load_questions(questions, split)
            budget = services.spend(tenant)
            report = evaluate(
                lambda q, k: services.searcher.search(tenant, q, k, mode=mode, budget=budget),  # type: ignore[arg-type]
                qs,
            )
        report = {"tenant": tenant, "mode": mode, "split": split, **report}
        if as_json:
            print_json(report)
            return
        typer.echo(
            f"{report['questions']} questions ({mode}): recall@1 {report['recall_at_1']:.3f}  "
            f"recall@3 {report['recall_at_3']:.3f}  MRR {report['mrr']:.3f}"
        )
        for miss in report["misses"]:
            got = ", ".join(miss["first"]) or "nothing"
            typer.echo(f"  miss (rank {miss['rank'] or '-'}): {miss['q']!r} -> {got}")


def _stats(index: Any, tenant: str) -> dict[str, Any]:
    meta = index.meta
    return {
        "tenant": tenant,
        "version": meta.get("version"),
        "articles": len(index),
        "sections": index.section_count,
        "locales": [loc for loc in meta.get("locales", "").split(",") if loc],
        "languages": index.languages,
        "embedder": meta.get("embedder"),
        "imported_at_ms": int(meta.get("imported_at_ms", "0")),
        "index_bytes": len(index.image()),
    }


def _print_summary(summary: ImportSummary, as_json: bool) -> None:
    doc = summary.to_json()
    if as_json:
        print_json(doc)
        return
    counts = doc["counts"]
    what = (
        "would change" if summary.dry_run else ("published" if summary.published else "unchanged")
    )
    typer.echo(
        f"tenant {summary.tenant}: {counts['added']} added, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['removed']} removed, "
        f"{counts['skipped']} skipped; {what} (version {summary.version or '-'})"
    )
    if summary.estimate_micros:
        typer.echo(f"embeddings: estimate ${doc['estimate_usd']}, cost ${doc['cost_usd']}")
    for skip in summary.skipped[:SHOWN_SKIPS]:
        typer.echo(f"  skipped {skip.ref}: {skip.reason}")
    if len(summary.skipped) > SHOWN_SKIPS:
        typer.echo(f"  ... and {len(summary.skipped) - SHOWN_SKIPS} more (see --json)")


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr when it is a terminal; otherwise nothing."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda stage, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update
