"""The analysis shared by import and query, per locale; long sections cut between paragraphs."""

from __future__ import annotations

from shared.knowledge.analyze import analyzer_for, script_of
from shared.knowledge.sections import MAX_SECTION_CHARS, split_sections


def test_english_stems_and_drops_stop_words() -> None:
    terms = analyzer_for("en-GB").terms(
        "Hi, I can't log in: my accounts were LOCKED after cancelling café orders"
    )
    assert terms == ["log", "account", "lock", "cancel", "cafe", "order"]
    # The same analyzer for "en", "en-US" and no locale at all
    assert analyzer_for("") is analyzer_for("en") is analyzer_for("en_US")


def test_other_languages_get_their_snowball_stemmer() -> None:
    assert analyzer_for("fr").terms("remboursements des commandes") == ["rembours", "de", "command"]
    assert analyzer_for("de-AT").terms("Rücksendungen") == ["rucksend"]
    assert analyzer_for("xx").name == "simple"


def test_cjk_script_becomes_character_pairs_in_any_locale() -> None:
    assert analyzer_for("ja").terms("注文した") == ["注文", "文し", "した"]
    assert analyzer_for("en").terms("注文 AC-5428") == ["注文", "ac", "5428"]
    assert script_of("注文した商品が届きません AC-5428") == "CJK"
    assert script_of("Zamówienie nie dotarło") == "LATIN"


def test_a_long_section_is_cut_between_paragraphs() -> None:
    paragraph = "word " * 300  # ~1,500 characters
    sections = split_sections(f"## Long\n\n{paragraph}\n\n{paragraph}\n\n{paragraph}\n", "T")
    assert len(sections) == 3 and {s.heading for s in sections} == {"Long"}
    assert all(len(s.text) <= MAX_SECTION_CHARS for s in sections)
    (one,) = split_sections("x" * 5000, "T")[:1]
    assert len(one.text) == MAX_SECTION_CHARS  # one unbroken run is cut where it must be
