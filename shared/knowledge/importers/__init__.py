"""Read a help centre from a folder, a file or standard input into articles and skips.

`--format auto` decides per file by its extension (and a JSON file by its shape); a named
format reads a single file or stdin as that format whatever its name, and in a folder only
the files of that format. Bad items are skipped with a one-line reason; a source that cannot
be read at all (missing, empty folder, malformed JSON, no CSV columns) raises KnowledgeError.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from shared.errors import KnowledgeError
from shared.knowledge.importers.csvqa import csv_articles
from shared.knowledge.importers.documents import html_article, markdown_article, text_article
from shared.knowledge.importers.raw import MAX_EXPORT_BYTES, Unreadable, decode, read_text
from shared.knowledge.importers.vendors import intercom_export, kind_of, load_json, zendesk_page
from shared.knowledge.model import Article, Parsed, Skip

FORMATS = ("auto", "markdown", "html", "text", "zendesk", "intercom", "csv")
EXTENSIONS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    ".json": "json",
    ".csv": "csv",
}
_FOLDER_KINDS = {"markdown": ("markdown", "text"), "html": ("html",), "text": ("text",)}


def read_source(source: str, fmt: str = "auto", *, stdin: bytes | None = None) -> Parsed:
    """Articles (ids unique) and skips from `source`: a folder, a file, or "-" for `stdin`."""
    if fmt not in FORMATS:
        raise KnowledgeError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if source == "-":
        try:
            text = decode(stdin or b"")
        except Unreadable as exc:
            raise KnowledgeError(f"stdin: {exc}") from None
        parsed = _parse_text(text, "stdin", fmt if fmt != "auto" else _sniff(text))
    else:
        path = Path(source)
        if path.is_dir():
            parsed = _read_folder(path, fmt)
        elif path.is_file():
            parsed = _read_file(path, path.name, fmt)
        else:
            raise KnowledgeError(f"{source}: no such file or folder")
    return _unique(parsed)


def _read_folder(root: Path, fmt: str) -> Parsed:
    parsed = Parsed()
    files = 0
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            files += 1
            path = Path(folder) / name
            parsed.extend(_read_file(path, path.relative_to(root).as_posix(), fmt, folder=True))
    if files == 0:
        raise KnowledgeError(f"{root}: empty folder, nothing to import")
    return parsed


def _read_file(path: Path, ref: str, fmt: str, *, folder: bool = False) -> Parsed:
    kind = EXTENSIONS.get(path.suffix.lower())
    if fmt != "auto":
        wanted = _FOLDER_KINDS.get(fmt, ("csv",) if fmt == "csv" else ("json",))
        if folder and kind not in wanted:
            return Parsed(skipped=[Skip(ref, f"not a {fmt} file")])
        kind = fmt if not (fmt == "markdown" and kind == "text") else "text"
    if kind is None:
        return Parsed(skipped=[Skip(ref, f"unsupported file type {path.suffix or '(none)'!r}")])
    export = kind in ("json", "zendesk", "intercom", "csv")
    try:
        text = read_text(path, limit_bytes=MAX_EXPORT_BYTES) if export else read_text(path)
    except Unreadable as exc:
        if export and not folder:
            raise KnowledgeError(f"{ref}: {exc}") from None
        return Parsed(skipped=[Skip(ref, str(exc))])
    return _parse_text(text, ref, kind)


def _parse_text(text: str, ref: str, kind: str) -> Parsed:
    single: dict[str, Callable[[str, str], Article | Skip]] = {
        "markdown": markdown_article,
        "html": html_article,
        "text": text_article,
    }
    if kind in single:
        got = single[kind](text, ref)
        return Parsed(skipped=[got]) if isinstance(got, Skip) else Parsed(articles=[got])
    if kind == "csv":
        return csv_articles(text, ref)
    doc = load_json(text, ref)
    if kind == "json":
        detected = kind_of(doc)
        if detected is None:
            raise KnowledgeError(f"{ref}: JSON that is neither a Zendesk nor an Intercom export")
        kind = detected
    return zendesk_page(doc, ref) if kind == "zendesk" else intercom_export(doc, ref)


def _sniff(text: str) -> str:
    head = text.lstrip()[:1]
    if head in ("{", "["):
        return "json"
    return "html" if head == "<" else "markdown"


def _unique(parsed: Parsed) -> Parsed:
    """First of each id wins; the same id in another locale is that locale's version."""
    seen: dict[str, Article] = {}
    out = Parsed(skipped=list(parsed.skipped))
    for article in parsed.articles:
        first = seen.get(article.id)
        if first is not None and first.locale != article.locale and article.locale:
            article = replace(article, id=f"{article.id}@{article.locale}")
            first = seen.get(article.id)
        if first is not None:
            reason = f"duplicate id {article.id!r} (first: {first.source})"
            out.skipped.append(Skip(article.source, reason))
            continue
        seen[article.id] = article
        out.articles.append(article)
    return out
