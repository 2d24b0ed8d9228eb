"""HTML (a help-centre page, a Zendesk or Intercom article body) to Markdown-like text.

Headings become `#` lines, so the HTML goes through the same sectioning as Markdown; blocks
and line breaks become new lines; scripts, styles and navigation are dropped. The standard
library's parser: help-centre HTML is simple, and it never fails on broken markup.
"""

from __future__ import annotations

from html.parser import HTMLParser

_BLOCKS = frozenset(
    "p div section article header footer blockquote pre table tr ul ol dl dt dd figure "
    "figcaption hr main aside details summary".split()
)
_SKIPPED = frozenset("script style noscript template nav svg head".split())
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.title = ""
        self._skip_depth = 0
        self._in_title = False
        self._heading: list[str] | None = None
        self._level = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip_depth += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._heading, self._level = [], _HEADINGS[tag]
        elif tag == "li":
            self.out.append("\n- ")
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self.out.append("\n\n")
        elif tag in ("td", "th"):
            self.out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip_depth = max(self._skip_depth - 1, 0)
        elif tag == "title":
            self._in_title = False
        elif tag in _HEADINGS and self._heading is not None:
            text = " ".join("".join(self._heading).split())
            if text:
                self.out.append(f"\n\n{'#' * self._level} {text}\n\n")
            self._heading = None
        elif tag in _BLOCKS:
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._in_title:
            self.title += data
        elif self._heading is not None:
            self._heading.append(data)
        else:
            self.out.append(" ".join(data.split(" ")) if data.strip() else " ")


def html_to_markdown(html: str) -> tuple[str, str]:
    """(the page's <title>, its text as Markdown-like lines)."""
    converter = _Converter()
    converter.feed(html)
    converter.close()
    lines = [" ".join(line.split()) for line in "".join(converter.out).splitlines()]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return " ".join(converter.title.split()), text.strip()
