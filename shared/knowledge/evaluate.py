"""How well a tenant's search answers a question set: recall@1, recall@3, MRR, and each miss.

A question set is JSON lines, `{"q": "...", "expected": "<article id or title>"}`, with an
optional `"split"` (the shipped demo set marks a tuning half and a held-out half).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.errors import KnowledgeError
from shared.knowledge.search import Hit

DEPTH = 10  # ranks looked at for MRR; a hit below it counts as a miss


@dataclass(frozen=True, slots=True)
class Question:
    q: str
    expected: str
    split: str = ""


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"{path}: cannot read ({exc})") from None
    out: list[Question] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            raise KnowledgeError(f"{path}:{n}: not a JSON object") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("q"), str):
            raise KnowledgeError(f"{path}:{n}: needs a string 'q'")
        if not isinstance(doc.get("expected"), str) or not doc["expected"]:
            raise KnowledgeError(f"{path}:{n}: needs a string 'expected' (an article id or title)")
        question = Question(doc["q"], doc["expected"], str(doc.get("split", "")))
        if split is None or question.split == split:
            out.append(question)
    if not out:
        raise KnowledgeError(f"{path}: no questions" + (f" in split {split!r}" if split else ""))
    return out


def _matches(hit: Hit, expected: str) -> bool:
    return hit.id == expected or hit.title.casefold() == expected.casefold()


def evaluate(
    search: Callable[[str, int], list[Hit]], questions: Sequence[Question]
) -> dict[str, Any]:
    """`search(query, limit)` is run once per question, `DEPTH` deep."""
    at1 = at3 = 0
    reciprocal = 0.0
    misses: list[dict[str, Any]] = []
    for question in questions:
        hits = search(question.q, DEPTH)
        rank = next((n for n, h in enumerate(hits, start=1) if _matches(h, question.expected)), 0)
        at1 += rank == 1
        at3 += 1 <= rank <= 3
        reciprocal += 1 / rank if rank else 0.0
        if rank != 1:
            misses.append(
                {
                    "q": question.q,
                    "expected": question.expected,
                    "rank": rank or None,
                    "first": [h.id for h in hits[:3]],
                }
            )
    n = len(questions)
    return {
        "questions": n,
        "recall_at_1": round(at1 / n, 4),
        "recall_at_3": round(at3 / n, 4),
        "mrr": round(reciprocal / n, 4),
        "misses": misses,
    }
