"""Vendor exports: Zendesk Help Center article pages and Intercom article lists (JSON).

Zendesk: the pages of `GET /api/v2/help_center/articles.json`, `{"articles": [{id, title,
body (HTML), html_url, locale, draft, updated_at, label_names, ...}], "next_page": ...}`, one
file per page (a single `{"article": {...}}` is read too). Intercom: `GET /articles`,
`{"type": "list", "data": [{id, title, body (HTML), url, state, default_locale,
translated_content: {<locale>: {title, body, state, url}}, ...}]}` or a bare list; each
translation is its own article (`<id>@<locale>`), so locales the tenant does not serve skip.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared.errors import KnowledgeError
from shared.knowledge.htmltext import html_to_markdown
from shared.knowledge.importers.documents import clean_id, tags_of
from shared.knowledge.model import MAX_ARTICLE_BYTES, Article, Parsed, Skip
from shared.knowledge.sections import plain, split_sections


def load_json(text: str, ref: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        where = ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" (line {exc.lineno} column {exc.colno}: {exc.msg})"
        raise KnowledgeError(f"{ref}: malformed JSON{where}") from None


def kind_of(doc: Any) -> str | None:
    """'zendesk', 'intercom' or None, from the shape of a parsed export."""
    if isinstance(doc, dict):
        if isinstance(doc.get("articles"), list) or isinstance(doc.get("article"), dict):
            return "zendesk"
        if isinstance(doc.get("data"), list) and doc.get("type") in ("list", None):
            return "intercom"
    if isinstance(doc, list) and all(isinstance(d, dict) for d in doc):
        return "intercom"
    return None


def zendesk_page(doc: Any, ref: str) -> Parsed:
    if isinstance(doc, dict) and isinstance(doc.get("article"), dict):
        items: Any = [doc["article"]]
    elif isinstance(doc, dict) and isinstance(doc.get("articles"), list):
        items = doc["articles"]
    else:
        raise KnowledgeError(f"{ref}: not a Zendesk articles page (no 'articles' list)")
    parsed = Parsed()
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            parsed.skipped.append(Skip(f"{ref}: item {n}", "not an article object"))
            continue
        raw_id = item.get("id")
        if item.get("draft") is True:
            parsed.skipped.append(Skip(f"{ref}: article {raw_id}", "draft"))
            continue
        got = _article(
            raw_id=raw_id,
            title=item.get("title"),
            body=item.get("body"),
            url=item.get("html_url") or item.get("url"),
            locale=item.get("locale"),
            updated_at=item.get("updated_at"),
            tags=item.get("label_names"),
            ref=f"{ref}: article {raw_id}",
            source=f"zendesk:{raw_id}",
        )
        _add(parsed, got)
    return parsed


def intercom_export(doc: Any, ref: str) -> Parsed:
    items: Any = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise KnowledgeError(f"{ref}: not an Intercom articles export (no 'data' list)")
    parsed = Parsed()
    for n, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type", "article") != "article":
            parsed.skipped.append(Skip(f"{ref}: item {n}", "not an article object"))
            continue
        raw_id = item.get("id")
        default_locale = str(item.get("default_locale") or "")
        versions: list[tuple[str, dict[str, Any]]] = [(default_locale, item)]
        translations = item.get("translated_content")
        if isinstance(translations, dict):
            for locale, content in translations.items():
                if isinstance(content, dict) and locale != default_locale and "body" in content:
                    versions.append((str(locale), content))
        for locale, content in versions:
            suffix = f"@{locale}" if content is not item else ""
            where = f"{ref}: article {raw_id}{suffix}"
            if content.get("state", "published") != "published":
                parsed.skipped.append(Skip(where, str(content.get("state") or "draft")))
                continue
            got = _article(
                raw_id=f"{raw_id}{suffix}" if raw_id is not None else None,
                title=content.get("title"),
                body=content.get("body"),
                url=content.get("url"),
                locale=locale,
                updated_at=content.get("updated_at") or item.get("updated_at"),
                tags=None,
                ref=where,
                source=f"intercom:{raw_id}{suffix}",
            )
            _add(parsed, got)
    return parsed


def _add(parsed: Parsed, got: Article | Skip) -> None:
    if isinstance(got, Skip):
        parsed.skipped.append(got)
    else:
        parsed.articles.append(got)


def _article(
    *,
    raw_id: Any,
    title: Any,
    body: Any,
    url: Any,
    locale: Any,
    updated_at: Any,
    tags: Any,
    ref: str,
    source: str,
) -> Article | Skip:
    article_id = clean_id(raw_id)
    if article_id is None:
        return Skip(ref, "no usable id")
    if not isinstance(title, str) or not title.strip():
        return Skip(ref, "no title")
    if not isinstance(body, str) or not body.strip():
        return Skip(ref, "empty body")
    if len(body.encode()) > MAX_ARTICLE_BYTES:
        return Skip(ref, f"body over the {MAX_ARTICLE_BYTES // (1024 * 1024)} MB article cap")
    _page_title, markdown = html_to_markdown(body)
    sections = split_sections(markdown, title.strip())
    if not sections:
        return Skip(ref, "empty body")
    return Article(
        id=article_id,
        title=plain(title.strip())[:500],
        sections=sections,
        url=url if isinstance(url, str) else "",
        source=source,
        locale=str(locale or ""),
        tags=tags_of(tags),
        updated_at=_when(updated_at),
    )


def _when(value: Any) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):  # Intercom: unix seconds
        return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
    return str(value or "")
