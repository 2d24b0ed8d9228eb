"""A CSV of questions and answers (an FAQ): one article a row, the question as its title.

Columns are found by name, case-insensitively: `question` (or `q`, `title`), `answer` (or
`a`, `body`); `id`, `url`, `locale` and `tags` are optional. Without an id column a row's id
is a hash of its question, so re-importing the same sheet is idempotent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence

from shared.errors import KnowledgeError
from shared.knowledge.importers.documents import clean_id, tags_of
from shared.knowledge.model import MAX_ARTICLE_BYTES, Article, Parsed, Section, Skip
from shared.knowledge.sections import split_long

QUESTION_COLUMNS = ("question", "q", "title")
ANSWER_COLUMNS = ("answer", "a", "body")


def _column(header: Sequence[str], names: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    return next((lowered[n] for n in names if n in lowered), None)


def csv_articles(text: str, ref: str) -> Parsed:
    # A long answer is one field; the article cap, not csv's 128 KB default, bounds it.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_ARTICLE_BYTES + 1))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    question_col = _column(header, QUESTION_COLUMNS)
    answer_col = _column(header, ANSWER_COLUMNS)
    if question_col is None or answer_col is None:
        found = ", ".join(h for h in header if h) or "none"
        raise KnowledgeError(f"{ref}: no question/answer columns (found: {found[:200]})")
    id_col, url_col = _column(header, ("id",)), _column(header, ("url",))
    locale_col, tags_col = _column(header, ("locale",)), _column(header, ("tags",))
    parsed = Parsed()
    try:
        for row in reader:
            where = f"{ref}: row {reader.line_num}"
            question = (row.get(question_col) or "").strip()
            answer = (row.get(answer_col) or "").strip()
            if not question or not answer:
                parsed.skipped.append(Skip(where, "empty question or answer"))
                continue
            if len(answer.encode()) > MAX_ARTICLE_BYTES:
                parsed.skipped.append(Skip(where, "answer over the 1 MB article cap"))
                continue
            raw_id = row.get(id_col) if id_col else None
            article_id = clean_id(raw_id) if raw_id else None
            if article_id is None:
                digest = hashlib.sha256(question.encode()).hexdigest()[:12]
                article_id = f"faq-{digest}"
            parsed.articles.append(
                Article(
                    id=article_id,
                    title=question[:500],
                    sections=tuple(Section("", part) for part in split_long(answer)),
                    url=(row.get(url_col) or "").strip() if url_col else "",
                    source=f"{ref}:{reader.line_num}",
                    locale=(row.get(locale_col) or "").strip() if locale_col else "",
                    tags=tags_of(row.get(tags_col)) if tags_col else (),
                )
            )
    except csv.Error as exc:
        raise KnowledgeError(f"{ref}: malformed CSV at line {reader.line_num} ({exc})") from None
    return parsed
