"""The simulated model understands follow-ups: a thanks closes, a first "didn't help" tries
again, a second escalates. Over real HTTP through the openai SDK, with the thread rendered as
the agent renders it (`<thread>` lines before the `<ticket>` block)."""

from __future__ import annotations

import json
from typing import Any

from shared.simulator.followup import confirms, message_text, read_thread, unsatisfied
from tests.conftest import SimulatorProcess
from tests.shared.simulator.helpers import SYSTEM, ask, client, feed_back, tool_call

ARTICLES = [{"id": "a1", "title": "Tracking your parcel", "url": "https://help.example/a1"}]


def followup(thread: list[str], says: str, subject: str = "Where is my order?") -> list[Any]:
    lines = "\n".join(thread)
    content = (
        f"Earlier in this conversation: {len(thread)} messages.\n<thread>\n{lines}\n</thread>\n"
        f"<ticket>\nSubject: {subject}\n\n{says}\n</ticket>"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": content}]


FIRST = ["[customer] My order has not arrived.", "[you, the assistant] Our help article..."]


def test_thanks_that_worked_closes_without_tools(simulator: SimulatorProcess) -> None:
    name, arguments = tool_call(
        ask(client(simulator.base_url), followup(FIRST, "Thanks, that worked!"))
    )
    assert name == "send_reply"
    assert "Great to hear that it is sorted!" in json.loads(arguments)["body"]


def test_a_first_didnt_help_searches_again_then_apologises(simulator: SimulatorProcess) -> None:
    llm = client(simulator.base_url)
    messages = followup(FIRST, "That didn't help, still nothing.")
    completion = ask(llm, messages)
    name, arguments = tool_call(completion)
    # Another search, for the customer's first question
    assert name == "search_knowledge_base"
    assert "order" in json.loads(arguments)["query"]
    feed_back(messages, completion, {"articles": ARTICLES})
    name, arguments = tool_call(ask(llm, messages))
    body = json.loads(arguments)["body"]
    assert name == "send_reply" and "I am sorry that did not solve it." in body
    assert "Tracking your parcel" in body


def test_still_broken_the_second_time_escalates(simulator: SimulatorProcess) -> None:
    thread = [*FIRST, "[customer] That didn't help.", "[you, the assistant] I am sorry..."]
    name, arguments = tool_call(ask(client(simulator.base_url), followup(thread, "Still broken.")))
    assert name == "escalate_to_human"
    assert "two answers" in json.loads(arguments)["reason"]


def test_without_an_earlier_answer_it_is_an_ordinary_ticket(simulator: SimulatorProcess) -> None:
    # "still broken" in a new ticket (no thread, or a thread without an answer) is a question
    llm = client(simulator.base_url)
    subject = "Password reset"
    for messages in (followup([], "Still broken.", subject),
                     followup(["[customer] hello"], "That didn't help", subject)):  # fmt: skip
        name, _ = tool_call(ask(llm, messages))
        assert name == "search_knowledge_base"


def test_a_person_in_the_thread_counts_as_nobody_answering_for_the_agent() -> None:
    thread = read_thread(followup(["[support agent (a person)] Looking into it"], "thanks")[1:])
    assert thread.answered_before is False


def test_reading_follow_ups() -> None:
    assert message_text("From: Ann\nSubject: Where is it?\n\nthanks, that worked") == (
        "thanks, that worked"
    )
    assert confirms("Thanks, that worked") and not confirms("thanks, but how do I return it?")
    assert unsatisfied("That didn\u2019t help") and not unsatisfied("thanks, that worked")
    assert read_thread([{"role": "user", "content": "no thread"}]).lines == ()
