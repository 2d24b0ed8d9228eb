"""Reading sources into articles: every format, front matter, and every kind of bad input
gets a one-line reason (a skip, or a KnowledgeError for the whole source), never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.errors import KnowledgeError
from shared.knowledge.importers import read_source
from shared.knowledge.model import MAX_ARTICLE_BYTES
from tests.shared.knowledge.conftest import DEMO_KB, write_article


def test_markdown_front_matter_title_heading_and_name(tmp_path: Path) -> None:
    # Given three Markdown files: front matter, a first heading only, and neither
    write_article(
        tmp_path,
        "a.md",
        "Body of A.",
        id="art-a",
        title='"Refunds"',
        url="https://x/a",
        locale="en-GB",
        tags="[money, refunds]",
    )
    write_article(tmp_path, "sub/b.markdown", "# Shipping times\n\nThree days.\n")
    write_article(tmp_path, "sub/Gift Cards.md", "They never expire.\n")
    # When the folder is read
    parsed = read_source(str(tmp_path))
    # Then each article has the right id, title and source
    by_id = {a.id: a for a in parsed.articles}
    assert parsed.skipped == []
    assert by_id["art-a"].title == "Refunds" and by_id["art-a"].url == "https://x/a"
    assert by_id["art-a"].locale == "en-GB" and by_id["art-a"].tags == ("money", "refunds")
    assert by_id["sub/b"].title == "Shipping times" and by_id["sub/b"].source == "sub/b.markdown"
    assert by_id["sub/b"].sections[0].text == "Three days."  # the title heading is no section
    assert by_id["sub/gift-cards"].title == "Gift Cards"


def test_sections_at_headings_with_their_path(tmp_path: Path) -> None:
    body = (
        "# Returns\n\nIntro text.\n\n## By post\n\nPrint the label.\n\n### Abroad\n\n"
        "Use a tracked service.\n\n```\n# not a heading\n```\n\n## In store\n\nBring the receipt.\n"
    )
    write_article(tmp_path, "returns.md", body)
    (article,) = read_source(str(tmp_path)).articles
    assert [s.heading for s in article.sections] == ["", "By post", "By post > Abroad", "In store"]
    assert "# not a heading" in article.sections[2].text


def test_html_and_text_files(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><head><title>Tab</title><script>x()</script></head><body><h1>Passwords</h1>"
        "<p>Choose <b>Forgot</b> password.</p><h2>No email?</h2><p>Check spam &amp; wait.</p>"
        "<ul><li>one</li><li>two</li></ul></body></html>"
    )
    (tmp_path / "note.txt").write_text("Opening hours\nWe answer 9 to 5.\n# not a heading\n")
    by_id = {a.id: a for a in read_source(str(tmp_path)).articles}
    page = by_id["page"]
    assert page.title == "Passwords"
    assert [s.heading for s in page.sections] == ["", "No email?"]
    assert "Check spam & wait." in page.sections[1].text and "x()" not in page.sections[0].text
    note = by_id["note"]
    assert note.title == "Opening hours" and "# not a heading" in note.sections[0].text


def test_zendesk_pages_skip_drafts(tmp_path: Path) -> None:
    page = {
        "articles": [
            {
                "id": 101,
                "title": "Reset",
                "body": "<p>Use the link.</p><h2>Expired</h2><p>Ask again.</p>",
                "html_url": "https://acme.zendesk.com/hc/en-us/articles/101",
                "locale": "en-us",
                "draft": False,
                "updated_at": "2026-01-01T00:00:00Z",
                "label_names": ["login"],
            },
            {"id": 102, "title": "Secret", "body": "<p>x</p>", "draft": True, "locale": "en-us"},
            {"id": 103, "title": "Empty", "body": None, "locale": "en-us"},
        ],
        "next_page": None,
    }
    (tmp_path / "page1.json").write_text(json.dumps(page))
    parsed = read_source(str(tmp_path / "page1.json"), "zendesk")
    (article,) = parsed.articles
    assert article.id == "101" and article.source == "zendesk:101" and article.locale == "en-us"
    assert [s.heading for s in article.sections] == ["", "Expired"]
    assert {(s.ref, s.reason) for s in parsed.skipped} == {
        ("page1.json: article 102", "draft"),
        ("page1.json: article 103", "empty body"),
    }


def test_intercom_export_with_translations(tmp_path: Path) -> None:
    export = {
        "type": "list",
        "data": [
            {
                "type": "article",
                "id": "9",
                "title": "Billing",
                "body": "<p>Pay by card.</p>",
                "url": "https://intercom.help/acme/9",
                "state": "published",
                "default_locale": "en",
                "updated_at": 1700000000,
                "translated_content": {
                    "type": "article_translated_content",
                    "fr": {
                        "title": "Facturation",
                        "body": "<p>Par carte.</p>",
                        "state": "published",
                    },
                },
            },
            {"type": "article", "id": "10", "title": "Draft", "body": "<p>x</p>", "state": "draft"},
        ],
    }
    (tmp_path / "intercom.json").write_text(json.dumps(export))
    parsed = read_source(str(tmp_path))  # auto: the JSON's shape says Intercom
    assert [(a.id, a.locale, a.title) for a in parsed.articles] == [
        ("9", "en", "Billing"),
        ("9@fr", "fr", "Facturation"),
    ]
    assert parsed.articles[0].updated_at == "2023-11-14T22:13:20Z"
    assert [s.reason for s in parsed.skipped] == ["draft"]


def test_csv_questions_and_answers(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(
        'Question,Answer,URL\n"Do you ship abroad?","Yes, to 40 countries.",https://x/ship\n"Empty",""\n'
    )
    parsed = read_source(str(path))
    (article,) = parsed.articles
    assert article.title == "Do you ship abroad?" and article.url == "https://x/ship"
    assert article.id.startswith("faq-") and article.source == "faq.csv:2"
    assert [s.reason for s in parsed.skipped] == ["empty question or answer"]
    # Re-reading gives the same id: the import stays idempotent
    assert read_source(str(path)).articles[0].id == article.id


def test_bad_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    write_article(tmp_path, "good.md", "# Good\n\nFine.\n")
    (tmp_path / "latin1.md").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (tmp_path / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with (tmp_path / "huge.md").open("wb") as f:  # 50 MB, sparse: never read
        f.truncate(50 * 1024 * 1024)
    (tmp_path / "manual.pdf").write_bytes(b"%PDF-1.4")
    write_article(tmp_path, "broken.md", "text", title="[unclosed")
    write_article(tmp_path, "draft.md", "text", draft="true")
    (tmp_path / ".hidden.md").write_text("ignored")
    parsed = read_source(str(tmp_path))
    assert [a.id for a in parsed.articles] == ["good"]
    reasons = {s.ref: s.reason for s in parsed.skipped}
    assert reasons["latin1.md"] == "not UTF-8 (byte 0xe9 at offset 3)"
    assert reasons["image.md"] == "binary file (NUL bytes), not text"
    assert reasons["huge.md"] == f"{50 * 1024 * 1024:,} bytes, over the 1 MB cap"
    assert reasons["manual.pdf"] == "unsupported file type '.pdf'"
    assert reasons["broken.md"].startswith("front matter is not valid YAML")
    assert reasons["draft.md"] == "draft"
    assert len(reasons) == 6 and all("\n" not in r for r in reasons.values())


def test_an_article_over_the_cap_in_an_export_is_skipped(tmp_path: Path) -> None:
    big = "<p>" + "x" * MAX_ARTICLE_BYTES + "</p>"
    page = {
        "articles": [
            {"id": 1, "title": "Big", "body": big},
            {"id": 2, "title": "Ok", "body": "<p>y</p>"},
        ]
    }
    (tmp_path / "p.json").write_text(json.dumps(page))
    parsed = read_source(str(tmp_path / "p.json"))
    assert [a.id for a in parsed.articles] == ["2"]
    assert parsed.skipped[0].reason == "body over the 1 MB article cap"


@pytest.mark.parametrize(
    ("content", "fmt", "message"),
    [
        ('{"articles": [', "auto", "p.json: malformed JSON (line 1 column 15: Expecting value)"),
        ('{"foo": 1}', "auto", "p.json: JSON that is neither a Zendesk nor an Intercom export"),
        ('{"foo": 1}', "zendesk", "p.json: not a Zendesk articles page (no 'articles' list)"),
        ("a,b\n1,2\n", "csv", "p.json: no question/answer columns (found: a, b)"),
    ],
)
def test_unreadable_exports_fail_the_whole_source(
    tmp_path: Path, content: str, fmt: str, message: str
) -> None:
    (tmp_path / "p.json").write_text(content)
    with pytest.raises(KnowledgeError) as err:
        read_source(str(tmp_path / "p.json"), fmt)
    assert str(err.value) == message


def test_unknown_format_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="unknown format 'docx'"):
        read_source(str(DEMO_KB), "docx")
    with pytest.raises(KnowledgeError, match="no such file or folder"):
        read_source(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(KnowledgeError, match="empty folder, nothing to import"):
        read_source(str(tmp_path / "empty"))


def test_stdin_is_sniffed(tmp_path: Path) -> None:
    parsed = read_source("-", stdin=b"---\nid: s1\n---\n# From stdin\n\nHello.\n")
    assert [(a.id, a.title, a.source) for a in parsed.articles] == [("s1", "From stdin", "stdin")]
    with pytest.raises(KnowledgeError, match="stdin: not UTF-8"):
        read_source("-", stdin=b"\xff\xfe bad")


def test_duplicate_ids_first_wins_other_locales_keep_theirs(tmp_path: Path) -> None:
    write_article(tmp_path, "a.md", "one", id="same", locale="en")
    write_article(tmp_path, "b.md", "two", id="same", locale="en")
    write_article(tmp_path, "c.md", "trois", id="same", locale="fr")
    parsed = read_source(str(tmp_path))
    assert [(a.id, a.source) for a in parsed.articles] == [("same", "a.md"), ("same@fr", "c.md")]
    assert parsed.skipped[0].reason == "duplicate id 'same' (first: a.md)"


def test_the_demo_help_centre_reads_whole() -> None:
    parsed = read_source(str(DEMO_KB))
    assert len(parsed.articles) == 35 and parsed.skipped == []
    assert all(a.url.startswith("https://help.example.com/") for a in parsed.articles)
