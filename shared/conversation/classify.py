"""What a customer's follow-up says about the answer they got: it worked, it did not, or they
want a person. Word lists, no model call: it runs on every customer message for free.

Languages: English, French, German, Spanish, Portuguese, Italian and Dutch (the help centre's
locales are English; the rest cover the customers most support desks see). Text is lower-cased
and its accents folded before matching, so "ça marche" and "ca marche" read alike.

Precedence, because one message often says two things: asking for a person wins over
unsatisfied ("still broken, let me talk to a human"), unsatisfied wins over a confirmation
("thanks, but that didn't help"), and a confirmation only counts when the message asks nothing
more (no question mark, or a short thanks). Anything else is `other`: a new question.

Limits (docs/conversations.md): sarcasm ("great, still broken" reads unsatisfied, good;
"great, thanks for nothing" reads as a thanks), negations beyond the listed phrases, and other
languages read as `other`, which never resolves or unresolves a ticket by itself: the window
still decides it.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Verdict(StrEnum):
    CONFIRMED = "confirmed"
    UNSATISFIED = "unsatisfied"
    ASKS_PERSON = "asks_person"
    OTHER = "other"


# Phrases, written accent-free and lower case; matched on word boundaries.
ASKS_PERSON = (
    # en
    "a human", "human agent", "human being", "real human", "to human", "human please",
    "real person", "a person", "someone real", "speak to someone", "talk to someone",
    "speak to an agent", "talk to an agent", "speak to a person", "talk to a person",
    "live agent", "representative", "your manager", "a manager", "not a bot", "stop the bot",
    "call me", "customer service agent",
    # fr
    "un humain", "une personne", "un conseiller", "un agent", "parler a quelqu'un",
    # de
    "einen menschen", "mitarbeiter", "echte person", "mit jemandem sprechen",
    # es
    "un humano", "una persona", "un agente", "hablar con alguien",
    # pt
    "um humano", "uma pessoa", "um atendente", "falar com alguem",
    # it
    "un operatore", "una persona reale", "parlare con qualcuno",
    # nl
    "een mens", "een medewerker", "iemand spreken",
)  # fmt: skip
UNSATISFIED = (
    # en
    "still broken", "still not", "still doesn't", "still does not", "still can't",
    "still cannot", "still have the", "still having", "still the same", "still getting",
    "didn't help", "did not help", "doesn't help", "does not help", "didn't work",
    "did not work", "doesn't work", "does not work", "not working", "isn't working",
    "didn't fix", "did not fix", "not fixed", "no luck", "same problem", "same issue",
    "not helpful", "unhelpful", "useless", "that's wrong", "not what i asked", "not resolved",
    "wasn't resolved", "not solved",
    # fr
    "toujours pas", "ne marche pas", "ne fonctionne pas", "ca ne marche", "n'a pas aide",
    "pas resolu", "toujours le meme",
    # de
    "immer noch nicht", "funktioniert nicht", "geht nicht", "hat nicht geholfen",
    "nicht geloest", "nicht gelost",
    # es
    "sigue sin", "no funciona", "no sirvio", "no me ayudo", "no ayudo", "sigue igual",
    "no resuelto",
    # pt
    "ainda nao", "nao funciona", "nao ajudou", "nao resolveu", "continua sem",
    # it
    "ancora non", "non funziona", "non ha aiutato", "non risolto",
    # nl
    "nog steeds niet", "werkt niet", "niet geholpen", "niet opgelost",
)  # fmt: skip
CONFIRMED = (
    # en
    "that worked", "it worked", "this worked", "that works", "it works now", "works now",
    "working now", "that fixed it", "fixed it", "that did it", "that did the trick",
    "that solved it", "problem solved", "issue solved", "issue resolved", "all good",
    "all sorted", "sorted now", "that helped", "very helpful", "got it", "perfect",
    "you can close", "please close", "resolved now", "solved now",
    # fr
    "ca marche", "ca fonctionne", "c'est regle", "c'est resolu", "probleme resolu",
    "parfait", "merci beaucoup",
    # de
    "hat funktioniert", "funktioniert jetzt", "hat geklappt", "problem geloest",
    "problem gelost", "perfekt", "vielen dank",
    # es
    "funciono", "ya funciona", "resuelto", "solucionado", "perfecto", "muchas gracias",
    # pt
    "funcionou", "resolvido", "perfeito", "muito obrigado", "muito obrigada",
    # it
    "ha funzionato", "funziona ora", "risolto", "perfetto", "grazie mille",
    # nl
    "het werkt", "werkt nu", "opgelost", "perfect", "hartelijk dank",
)  # fmt: skip
# A bare thanks confirms only in a short message that asks nothing else.
THANKS = ("thanks", "thank you", "thx", "ty", "merci", "danke", "gracias", "obrigado",
          "obrigada", "grazie", "bedankt", "dank je")  # fmt: skip
SHORT_THANKS_WORDS = 8


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alts = sorted({re.escape(p) for p in phrases}, key=len, reverse=True)
    return re.compile(r"(?<![\w'])(?:" + "|".join(alts) + r")(?![\w'])")


_ASKS_PERSON = _pattern(ASKS_PERSON)
_UNSATISFIED = _pattern(UNSATISFIED)
_CONFIRMED = _pattern(CONFIRMED)
_THANKS = _pattern(THANKS)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def fold(text: str) -> str:
    """Lower case, accents removed, curly apostrophes straightened, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.replace("ß", "ss").split())


def classify(text: str) -> Verdict:
    """The verdict of one customer message (see the module's precedence and limits)."""
    folded = fold(text)
    if not folded:
        return Verdict.OTHER
    if _ASKS_PERSON.search(folded):
        return Verdict.ASKS_PERSON
    if _UNSATISFIED.search(folded):
        return Verdict.UNSATISFIED
    asks_more = "?" in folded
    if _CONFIRMED.search(folded) and not asks_more:
        return Verdict.CONFIRMED
    if _THANKS.search(folded) and not asks_more and len(folded.split()) <= SHORT_THANKS_WORDS:
        return Verdict.CONFIRMED
    return Verdict.OTHER
