"""Text to index terms, per locale: the same analysis for articles at import and for queries.

- English (`en`, `en-*`, and articles with no locale): lower case, accents folded, English
  stop words (Snowball's list plus what tickets add: "hi", "please", "dont"), Snowball's
  English (Porter2) stemmer.
- Any other language Snowball has a stemmer for (`fr`, `de`, `es`, `pt`, `it`, `nl`, `sv`,
  `da`, `no`/`nb`, `fi`, `ru`, `pl`, `tr`, `el`, `ar`, ...): lower case and that stemmer;
  no stop word list (the ranking's IDF weighs very common words down instead).
- Chinese, Japanese and Korean script, in any locale: overlapping character pairs (bigrams),
  the usual analysis for text without spaces between words.
- Anything else: lower case and accents folded, no stemming.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import snowballstemmer

ENGLISH_STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing would should could ought i'm you're he's she's it's we're they're i've you've we've
    they've i'd you'd he'd she'd we'd they'd i'll you'll he'll she'll we'll they'll isn't
    aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't shan't
    shouldn't can't cannot couldn't mustn't let's that's who's what's here's there's when's
    where's why's how's a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very
    can will just also still u ur im ive dont cant wont isnt didnt doesnt hi hello hey dear
    please pls thanks thank regards
    """.split()
)
# Snowball's algorithm names by ISO 639-1 code (English is handled on its own).
SNOWBALL_LANGUAGES = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech",
    "da": "danish", "nl": "dutch", "eo": "esperanto", "et": "estonian", "fi": "finnish",
    "fr": "french", "de": "german", "el": "greek", "hi": "hindi", "hu": "hungarian",
    "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian", "ne": "nepali",
    "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "fa": "persian", "pl": "polish",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "st": "sesotho",
    "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip
# Bumped whenever analysis changes: an index built by another version is rebuilt, not read.
ANALYZER_VERSION = "1"
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_STEM_CACHE_MAX = 200_000


# The script each language is written in, for `script_of`; Latin otherwise.
SCRIPTS = {
    "ja": "CJK", "zh": "CJK", "ko": "CJK", "ru": "CYRILLIC", "sr": "CYRILLIC",
    "uk": "CYRILLIC", "bg": "CYRILLIC", "el": "GREEK", "ar": "ARABIC", "fa": "ARABIC",
    "he": "HEBREW", "yi": "HEBREW", "hi": "DEVANAGARI", "ne": "DEVANAGARI", "ta": "TAMIL",
    "hy": "ARMENIAN", "th": "THAI",
}  # fmt: skip
_SCRIPT_ALIASES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK"}


def script_of(text: str) -> str:
    """The script most of the text's letters are written in ('LATIN', 'CJK', ...)."""
    counts: dict[str, int] = {}
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "LATIN").split(" ")[0]
            script = _SCRIPT_ALIASES.get(name, name)
            counts[script] = counts.get(script, 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else "LATIN"


def language_script(lang: str) -> str:
    return SCRIPTS.get(lang, "LATIN")


def language(locale: str) -> str:
    """The language part of a locale: 'en-US' -> 'en'; '' (not given) reads as English."""
    return (locale or "en").replace("_", "-").split("-")[0].lower() or "en"


def fold(text: str) -> str:
    """Lower case with accents removed ('Café' -> 'cafe')."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class Analyzer:
    def __init__(self, name: str, algorithm: str | None, stop_words: frozenset[str]) -> None:
        self.name = name
        self._stemmer = snowballstemmer.stemmer(algorithm) if algorithm else None
        self._stop = stop_words
        self._fold = algorithm in (None, "english")
        self._stems: dict[str, str] = {}

    def terms(self, text: str) -> list[str]:
        text = text.replace("\u2019", "'")
        out: list[str] = []
        for cjk in _CJK.findall(text):
            out.extend(cjk[i : i + 2] for i in range(max(len(cjk) - 1, 1)))
        rest = _CJK.sub(" ", text)
        words = _WORD.findall(fold(rest) if self._fold else rest.lower())
        stems = self._stems
        for word in words:
            if word in self._stop:
                continue
            stem = stems.get(word)
            if stem is None:
                stem = self._stem(word)
                if len(stems) >= _STEM_CACHE_MAX:
                    stems.clear()
                stems[word] = stem
            out.append(stem)
        return out

    def _stem(self, word: str) -> str:
        if self._stemmer is None:
            return word
        return str(self._stemmer.stemWord(word.replace("'", "")))


def analyzer_for(locale: str) -> Analyzer:
    return _analyzer(language(locale))


@cache
def _analyzer(lang: str) -> Analyzer:
    if lang == "en":
        return Analyzer("english", "english", ENGLISH_STOP_WORDS)
    algorithm = SNOWBALL_LANGUAGES.get(lang)
    if algorithm is not None:
        return Analyzer(algorithm, algorithm, frozenset())
    return Analyzer("simple", None, frozenset())
