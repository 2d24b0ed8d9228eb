"""Markdown (and HTML once converted to it) split into sections at its headings.

A section is what the agent receives: the passage under one heading, with its heading path,
not the first few hundred characters of the article. A section longer than
MAX_SECTION_CHARS is cut at paragraph boundaries into parts that keep the same heading, so a
passage stays small enough to be read whole.
"""

from __future__ import annotations

import re

from shared.knowledge.model import Section

MAX_SECTION_CHARS = 2_000
HEADING_JOIN = " > "
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(\S(?:.*?\S)?)\1")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_BLANK_RUN = re.compile(r"\n{3,}")


def plain(markdown: str) -> str:
    """The text a person reads: links, images, emphasis and stray tags reduced to words."""
    text = _IMAGE.sub(r"\1", markdown)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _HTML_TAG.sub("", text)
    lines = [line.rstrip() for line in text.splitlines()]
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


def first_heading(markdown: str) -> str:
    in_fence = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _HEADING.match(line)):
            return plain(match.group(2))
    return ""


def split_sections(markdown: str, title: str) -> tuple[Section, ...]:
    """Sections in order; a leading heading that repeats the title is not a section."""
    path: list[tuple[int, str]] = []  # (level, heading) of the headings above this line
    heading = ""
    lines: list[str] = []
    out: list[Section] = []
    in_fence = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            lines.append(line)
            continue
        _emit(out, heading, lines)
        lines = []
        level, text = len(match.group(1)), plain(match.group(2))
        if not out and not path and level == 1 and text.casefold() == title.casefold():
            continue  # the article's own title, not a section
        path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, text)]
        heading = HEADING_JOIN.join(h for _, h in path)
    _emit(out, heading, lines)
    return tuple(out)


def _emit(out: list[Section], heading: str, lines: list[str]) -> None:
    text = plain("\n".join(lines))
    if not text:
        return  # a heading with nothing under it lives on in its children's paths
    for part in split_long(text):
        out.append(Section(heading, part))


def split_long(text: str) -> list[str]:
    """The text as parts of at most MAX_SECTION_CHARS, cut between paragraphs."""
    if len(text) <= MAX_SECTION_CHARS:
        return [text]
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        while len(paragraph) > MAX_SECTION_CHARS:  # one huge paragraph: cut at a space
            cut = paragraph.rfind(" ", 0, MAX_SECTION_CHARS)
            cut = cut if cut > MAX_SECTION_CHARS // 2 else MAX_SECTION_CHARS
            if current:
                parts.append(current)
                current = ""
            parts.append(paragraph[:cut].strip())
            paragraph = paragraph[cut:].strip()
        if current and len(current) + 2 + len(paragraph) > MAX_SECTION_CHARS:
            parts.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        parts.append(current)
    return [p for p in parts if p]
