"""The follow-up classifier: each verdict, in each language it claims, and its precedence."""

from __future__ import annotations

import pytest

from shared.conversation.classify import Verdict, classify


@pytest.mark.parametrize(
    "text",
    [
        "Thanks, that worked!",
        "That fixed it, you can close the ticket.",
        "thank you",
        "Perfect, all good now",
        "Merci, ça marche !",
        "Danke, hat funktioniert.",
        "Gracias, ya funciona",
        "Obrigado, funcionou",
        "Grazie, ha funzionato",
        "Bedankt, het werkt",
    ],
)
def test_confirmations(text: str) -> None:
    assert classify(text) is Verdict.CONFIRMED


@pytest.mark.parametrize(
    "text",
    [
        "Still broken.",
        "Thanks, but that didn't help",
        "That didn\u2019t work, same problem as before",
        "It is still not charging",
        "Ça ne marche toujours pas",
        "Es funktioniert immer noch nicht",
        "No funciona",
        "Ainda não funciona",
        "Non funziona ancora",
        "Het werkt niet",
    ],
)
def test_unsatisfied(text: str) -> None:
    assert classify(text) is Verdict.UNSATISFIED


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to a human please?",
        "Still broken. I want to speak to a person.",
        "Thanks but get me a real person",
        "Je veux parler à un conseiller",
        "Ich möchte einen Menschen sprechen",
        "Quiero hablar con una persona",
    ],
)
def test_asks_for_a_person_wins(text: str) -> None:
    assert classify(text) is Verdict.ASKS_PERSON


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Thanks! And how do I change my shipping address?",
        "Where is my order #1234?",
        "Thanks for the quick reply, I also wanted to ask about the invoice for last month "
        "and whether it includes VAT",
        "Mein Paket ist nicht angekommen",  # not in the lists: never decides by itself
        "The wrong size was human error on my side, can I exchange it?",
    ],
)
def test_other(text: str) -> None:
    assert classify(text) is Verdict.OTHER


def test_words_match_whole_words_only() -> None:
    # "ty" (thanks) inside "party", "human" inside "inhumane": neither counts.
    assert classify("party") is Verdict.OTHER
    assert classify("this is inhumane pricing") is Verdict.OTHER
