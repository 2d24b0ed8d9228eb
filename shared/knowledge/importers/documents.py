"""One help article per file: Markdown (YAML front matter honoured), HTML, or plain text.

Front matter may set `id`, `title`, `url`, `locale`, `tags` and `draft`. Otherwise the id is
the file's path inside the imported folder, and the title its first heading, else its name.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import yaml

from shared.knowledge.htmltext import html_to_markdown
from shared.knowledge.model import Article, Section, Skip
from shared.knowledge.sections import first_heading, plain, split_long, split_sections

MAX_ID_CHARS = 200
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*$\r?\n?", re.DOTALL | re.MULTILINE)
_ID_UNSAFE = re.compile(r"[^a-z0-9._/\-]+")


def path_id(ref: str) -> str:
    """An id from a path: 'Billing/Refund Policy.md' -> 'billing/refund-policy'."""
    stem = str(PurePosixPath(ref).with_suffix(""))
    return _ID_UNSAFE.sub("-", stem.lower()).strip("-/")[:MAX_ID_CHARS] or "article"


def name_title(ref: str) -> str:
    stem = PurePosixPath(ref).stem.replace("-", " ").replace("_", " ").strip()
    return stem[:1].upper() + stem[1:] if stem else ref


def clean_id(value: Any) -> str | None:
    """A vendor's or a writer's id as a string, or None when unusable."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    if not text or len(text) > MAX_ID_CHARS or any(c.isspace() or ord(c) < 32 for c in text):
        return None
    return text


def tags_of(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, list):
        return ()
    return tuple(str(v).strip() for v in value if str(v).strip())[:50]


def markdown_article(text: str, ref: str, *, kind: str = "markdown") -> Article | Skip:
    meta: dict[str, Any] = {}
    match = _FRONT.match(text)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 2})" if mark is not None else ""
            return Skip(ref, f"front matter is not valid YAML{where}")
        if loaded is not None and not isinstance(loaded, dict):
            return Skip(ref, "front matter is not a mapping of fields")
        meta = loaded or {}
        text = text[match.end() :]
    if meta.get("draft") is True or meta.get("published") is False:
        return Skip(ref, "draft")
    title = str(meta.get("title") or "").strip() or first_heading(text) or name_title(ref)
    return _article(meta, text, ref, title, kind)


def html_article(text: str, ref: str) -> Article | Skip:
    page_title, markdown = html_to_markdown(text)
    title = first_heading(markdown) or page_title or name_title(ref)
    return _article({}, markdown, ref, title, "html")


def text_article(text: str, ref: str) -> Article | Skip:
    lines = text.strip().splitlines()
    title = lines[0].strip() if lines else ""
    if not title or len(title) > 200:
        title = name_title(ref)
        body = text
    else:
        body = "\n".join(lines[1:])
    return _article({}, body, ref, title, "text")


def _article(meta: dict[str, Any], body: str, ref: str, title: str, kind: str) -> Article | Skip:
    article_id = path_id(ref)
    if "id" in meta:
        given = clean_id(meta["id"])
        if given is None:
            return Skip(ref, f"front matter id {str(meta['id'])[:40]!r} is not a usable id")
        article_id = given
    if kind == "text":  # plain text has no headings: a line starting with '#' is text
        sections = tuple(Section("", part) for part in split_long(body.strip()))
    else:
        sections = split_sections(body, title)
    if not sections:
        return Skip(ref, f"empty {kind} article (no text under the title)")
    locale = meta.get("locale") or meta.get("lang") or meta.get("language") or ""
    return Article(
        id=article_id,
        title=plain(title)[:500],
        sections=sections,
        url=str(meta.get("url") or meta.get("html_url") or ""),
        source=ref,
        locale=str(locale).strip(),
        tags=tags_of(meta.get("tags") or meta.get("keywords")),
        updated_at=str(meta.get("updated_at") or meta.get("date") or ""),
    )
