"""The simulator as the agent sees it: through the openai SDK, over real HTTP."""

from __future__ import annotations

import json

import httpx

from shared.estimate import prompt_tokens_upper_bound
from tests.conftest import SimulatorProcess
from tests.shared.simulator.helpers import (
    TOOLS,
    ask,
    client,
    feed_back,
    run_until_reply,
    ticket_messages,
    tool_call,
)

ARTICLES = [{"title": "Tracking a late parcel", "url": "kb/1"}, {"title": "Refunds", "url": "kb/2"}]


def test_plain_answer_without_tools(simulator: SimulatorProcess) -> None:
    # Given a request that offers no tools
    llm = client(simulator.base_url)
    # When the model answers
    completion = ask(llm, [{"role": "user", "content": "Hello there"}], tools=None)
    # Then it is plain content with a "stop" and consistent usage
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.content and not choice.message.tool_calls
    usage = completion.usage
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.completion_tokens == -(-len(choice.message.content.encode()) // 4)
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_order_ticket_runs_lookup_then_search_then_reply(simulator: SimulatorProcess) -> None:
    # Given an order ticket and an agent feeding tool results back
    llm = client(simulator.base_url)
    messages = ticket_messages("Where is my order?", "My package has not arrived yet.")
    # When the conversation runs to the reply
    called, body = run_until_reply(llm, messages, ARTICLES)
    # Then the calls follow the policy and the reply names the first article found
    assert called == ["lookup_customer_history", "search_knowledge_base", "send_reply"]
    assert "Tracking a late parcel" in body


def test_order_ticket_arguments(simulator: SimulatorProcess) -> None:
    # Given an order ticket
    llm = client(simulator.base_url)
    messages = ticket_messages("Refund for my order", "I was charged twice.")
    # When the first two turns run
    first = ask(llm, messages)
    feed_back(messages, first, {"orders": []})
    second = ask(llm, messages)
    # Then the lookup asks for everything, and the search is built from the subject's keywords
    assert tool_call(first) == ("lookup_customer_history", '{"kind": "all"}')
    name, arguments = tool_call(second)
    assert name == "search_knowledge_base"
    assert json.loads(arguments) == {"query": "refund order"}
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.choices[0].message.tool_calls[0].id != second.choices[0].message.tool_calls[0].id  # type: ignore[index]


def test_question_ticket_searches_then_replies(simulator: SimulatorProcess) -> None:
    # Given a ticket with no order words, and a search that finds nothing
    llm = client(simulator.base_url)
    messages = ticket_messages("Password reset", "How can I change my password?")
    # When it runs
    called, body = run_until_reply(llm, messages, [])
    # Then it is search then reply, and the reply names no article
    assert called == ["search_knowledge_base", "send_reply"]
    assert '"' not in body


def test_final_answer_is_content_when_send_reply_is_not_offered(
    simulator: SimulatorProcess,
) -> None:
    # Given the tools without send_reply
    llm = client(simulator.base_url)
    tools = [t for t in TOOLS if t["function"]["name"] != "send_reply"]
    messages = ticket_messages("Password reset", "How can I change my password?")
    first = ask(llm, messages, tools=tools)
    feed_back(messages, first, {"articles": ARTICLES})
    # When the model finishes
    final = ask(llm, messages, tools=tools)
    # Then the answer is plain content naming the article
    assert final.choices[0].finish_reason == "stop"
    assert "Tracking a late parcel" in (final.choices[0].message.content or "")


def test_tool_choice_forces_a_tool_and_none_forbids_them(simulator: SimulatorProcess) -> None:
    llm = client(simulator.base_url)
    messages = ticket_messages("Where is my order?", "Still waiting.")
    # Given tool_choice naming send_reply, When asked on the first turn, Then it replies at once
    forced = ask(
        llm, messages, tool_choice={"type": "function", "function": {"name": "send_reply"}}
    )
    assert tool_call(forced)[0] == "send_reply"
    # Given tool_choice "none", Then the answer is content
    plain = ask(llm, messages, tool_choice="none")
    assert plain.choices[0].message.content and not plain.choices[0].message.tool_calls


def test_streaming_with_include_usage(simulator: SimulatorProcess) -> None:
    # Given a streamed request asking for usage
    llm = client(simulator.base_url)
    messages = ticket_messages("Password reset", "How can I change my password?")
    stream = llm.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    # When every chunk is read
    chunks = list(stream)
    # Then the tool call reassembles, the finish reason comes once, and usage comes last
    arguments = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""  # type: ignore[index, union-attr]
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert json.loads(arguments) == {"query": "password reset"}
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["tool_calls"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    unstreamed = ask(llm, messages)
    assert chunks[-1].usage == unstreamed.usage


def test_streamed_content_matches_the_unstreamed_answer(simulator: SimulatorProcess) -> None:
    # Given the same plain request, streamed and not
    llm = client(simulator.base_url)
    messages = [{"role": "user", "content": "Tell me something, in the stream test"}]
    stream = llm.chat.completions.create(model="gpt-4o", messages=messages, stream=True)  # type: ignore[arg-type]
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    # Then the text is the same
    assert text == ask(llm, messages, tools=None).choices[0].message.content


def test_same_request_and_seed_give_the_same_response(simulator: SimulatorProcess) -> None:
    # Given one request sent twice, and a variant of it
    llm = client(simulator.base_url)
    messages = ticket_messages("Password reset", "How can I change my password? determinism")
    first, second = ask(llm, messages), ask(llm, messages)
    # Then the two answers are identical (id included); only `created` may differ
    assert first.model_dump(exclude={"created"}) == second.model_dump(exclude={"created"})


def test_wording_depends_on_the_seed(
    simulator: SimulatorProcess, private_simulator: SimulatorProcess
) -> None:
    # Given two simulators with different seeds
    private_simulator.faults(seed=8)
    texts: dict[int, set[str]] = {7: set(), 8: set()}
    # When they answer the same ten questions
    for seed, sim in ((7, simulator), (8, private_simulator)):
        for i in range(10):
            completion = ask(
                client(sim.base_url), [{"role": "user", "content": f"question {i}"}], tools=None
            )
            texts[seed].add(completion.choices[0].message.content or "")
    # Then the wording differs somewhere
    assert texts[7] != texts[8]


def test_usage_is_under_the_estimator_bound_and_max_tokens(simulator: SimulatorProcess) -> None:
    # Given a long multi-turn conversation with unicode, tools and a small max_tokens
    llm = client(simulator.base_url)
    messages = ticket_messages("Où est ma commande? 📦", "Ma livraison est en retard. " * 50)
    first = ask(llm, messages)
    feed_back(messages, first, {"orders": [{"id": "o-1", "note": "é" * 300}]})
    # When a reply is forced under max_tokens=5 and max_completion_tokens=7
    completion = ask(
        llm,
        messages,
        max_tokens=5,
        tool_choice={"type": "function", "function": {"name": "send_reply"}},
    )
    capped = ask(llm, messages, tools=None, max_completion_tokens=7)
    # Then the prompt is within the byte bound and the output within max_tokens, cut with "length"
    bound = prompt_tokens_upper_bound(messages, TOOLS)
    assert completion.usage is not None and capped.usage is not None
    assert 0 < completion.usage.prompt_tokens <= bound
    assert completion.usage.completion_tokens <= 5
    assert completion.choices[0].finish_reason == "length"
    assert capped.usage.completion_tokens == 7 and capped.choices[0].finish_reason == "length"


def test_a_repeated_long_system_message_is_reported_cached(simulator: SimulatorProcess) -> None:
    # Given a system message of about 1,300 tokens, new to the simulator
    llm = client(simulator.base_url)
    system = "Policy line about refunds and shipping times. " * 115 + "cache test"
    messages = ticket_messages("Password reset", "How?", system=system)
    # When it is sent twice
    first, second = ask(llm, messages), ask(llm, messages)
    # Then only the repeat reports cached tokens: the system's, down to a multiple of 128
    assert first.usage and first.usage.prompt_tokens_details
    assert second.usage and second.usage.prompt_tokens_details
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    system_tokens = -(-len(system) // 4) + 4
    assert (
        second.usage.prompt_tokens_details.cached_tokens
        == system_tokens - system_tokens % 128
        == 1280
    )


def test_a_short_system_message_is_never_cached(simulator: SimulatorProcess) -> None:
    llm = client(simulator.base_url)
    messages = ticket_messages("Password reset", "How? short cache")
    ask(llm, messages)
    again = ask(llm, messages)
    assert again.usage and again.usage.prompt_tokens_details
    assert again.usage.prompt_tokens_details.cached_tokens == 0


def test_rate_limit_headers_on_every_answer(simulator: SimulatorProcess) -> None:
    # Given the raw response of a completion
    llm = client(simulator.base_url)
    raw = llm.chat.completions.with_raw_response.create(
        model="gpt-4.1", messages=[{"role": "user", "content": "hi"}]
    )
    # Then OpenAI's rate-limit headers are there, with durations in OpenAI's format
    for name in ("limit-requests", "limit-tokens", "remaining-requests", "remaining-tokens"):
        assert int(raw.headers[f"x-ratelimit-{name}"]) > 0
    assert raw.headers["x-ratelimit-reset-requests"] == "1m0s"


def test_models_are_listed(simulator: SimulatorProcess) -> None:
    ids = {m.id for m in client(simulator.base_url).models.list()}
    assert {
        "gpt-4o-mini",
        "gpt-4o",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "gpt-4-turbo",
    } <= ids


def test_malformed_requests_are_400_not_500(simulator: SimulatorProcess) -> None:
    url = f"{simulator.base_url}/chat/completions"
    for body in (
        b"not json",
        b"[]",
        b'{"messages": []}',
        b'{"messages": [{"role": "user"}], "max_tokens": 0}',
    ):
        resp = httpx.post(url, content=body, headers={"content-type": "application/json"})
        assert resp.status_code == 400, body
        assert resp.json()["error"]["type"] == "invalid_request_error"
