"""The simulated model's decisions: which tool to call next, or what to answer.

Decisions are a pure function of the ticket text, the tools offered and how many tool calls the
conversation already holds; the seed only picks wording. Priority, as in the shared policy:
test directives, then the gullible injection triggers, then escalation triggers, then a
follow-up's verdict on the last answer (followup.py), then the ordinary flow (lookup for
order-like tickets, a knowledge-base search, a reply). A lookup is made with whichever offered
tool reads customers' records (lookup.py): tenants name their own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.simulator import wording
from shared.simulator.conversation import SEARCH_TOOL, Conversation, read_conversation
from shared.simulator.followup import Thread, confirms, message_text, read_thread, unsatisfied
from shared.simulator.lookup import LookupTool, lookup_arguments, lookup_tool
from shared.simulator.ticket import TicketText, earlier_messages, read_ticket

LOOKUP_TOOL = "lookup_customer_history"
ESCALATE_TOOL = "escalate_to_human"
REPLY_TOOL = "send_reply"
UNKNOWN_TOOL = "delete_all_tickets"
MAX_CALLS_BEFORE_REPLY = 3
BAD_JSON_ARGS = '{"kind": "all", "requester_id": '

ECHO_TRIGGERS = ("system prompt", "your instructions", "ignore previous", "ignore all previous")
CROSS_REQUESTER_TRIGGERS = ("another customer", "other customer", "someone else's", "account of ")
STAFF_TRIGGERS = ("i am staff", "as an admin", "i work for")
ESCALATION_TRIGGERS = (
    "lawyer", "legal action", "chargeback", "fraud", "speak to a human", "talk to a human",
    "manager", "gdpr", "delete my data", "sue you",
)  # fmt: skip
ORDER_WORDS = (
    "order", "refund", "shipping", "delivery", "package", "invoice", "charged",
    "subscription", "return",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: str  # raw JSON text; invalid on purpose for `bad_args`


@dataclass(frozen=True, slots=True)
class Decision:
    rule: str  # which rule decided, for stats and debugging
    tool_call: ToolCall | None = None
    content: str | None = None
    fill_max_tokens: bool = False  # `long`: the answer runs until max_tokens stops it
    slow_ms: int = 0


@dataclass(slots=True)
class _Script:
    rule: str
    calls: list[ToolCall] = field(default_factory=list)
    final: str = "reply"  # reply | echo | leak | escalated | long
    tone: str = ""  # a follow-up's reply: "closing" (it worked), "retry" (it did not)
    endless: Callable[[int], ToolCall] | None = None  # `loop`/`runaway`: never a reply
    variant: int = 0  # `leak_email:N`: how the leaked address is disguised


def decide(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None,
    tool_choice: Any,
    seed: int,
) -> Decision:
    ticket = read_ticket(messages)
    conv = read_conversation(messages)
    offered = offered_tools(tools)
    lookup = lookup_tool(tools)
    slow = ticket.directive("slow")
    slow_ms = (slow[1] or 0) if slow else 0
    rng = wording.rng_for(seed, ticket.text, str(conv.turn))
    script = _script(ticket, read_thread(messages))
    choice = _choice(tool_choice)
    if choice == "none" or not offered:
        long_answer = script.final == "long"
        return Decision(
            "plain",
            content=_final_text(script, conv, rng),
            fill_max_tokens=long_answer,
            slow_ms=slow_ms,
        )
    if choice not in ("auto", "required"):
        return Decision(
            "forced",
            tool_call=_forced(choice, ticket, conv, script, rng, lookup),
            slow_ms=slow_ms,
        )
    if script.endless is not None:
        return Decision(script.rule, tool_call=script.endless(conv.turn), slow_ms=slow_ms)
    # A planned call to a tool the agent does not offer is skipped, except the one that is
    # meant to be unknown.
    calls = [
        found
        for c in script.calls
        if (found := _offered_call(c, offered, lookup, ticket)) is not None
    ]
    if conv.turn < min(len(calls), MAX_CALLS_BEFORE_REPLY):
        return Decision(script.rule, tool_call=calls[conv.turn], slow_ms=slow_ms)
    text = _final_text(script, conv, rng)
    earlier = earlier_messages(messages)
    if earlier and script.final == "reply":
        # A follow-up's answer says what it read, so a test can see the thread reached it.
        text = f"Following up on our {earlier} earlier messages: {text}"
    if script.final == "long":
        return Decision(script.rule, content=text, fill_max_tokens=True, slow_ms=slow_ms)
    if REPLY_TOOL in offered:
        return Decision(script.rule, tool_call=_reply_call(text), slow_ms=slow_ms)
    if choice == "required":
        return Decision(
            script.rule,
            tool_call=_forced(offered[0], ticket, conv, script, rng, lookup),
            slow_ms=slow_ms,
        )
    return Decision(script.rule, content=text, slow_ms=slow_ms)


def offered_tools(tools: Sequence[Mapping[str, Any]] | None) -> list[str]:
    names: list[str] = []
    for tool in tools or ():
        function = tool.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            names.append(function["name"])
    return names


def _choice(tool_choice: Any) -> str:
    if isinstance(tool_choice, str):
        return tool_choice if tool_choice in ("none", "required") else "auto"
    if isinstance(tool_choice, Mapping):
        function = tool_choice.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return str(function["name"])
    return "auto"


def _script(ticket: TicketText, thread: Thread) -> _Script:
    for name, _number in ticket.directives:
        script = _directive_script(name, ticket)
        if script is not None:
            return script
    text = ticket.lowered
    if any(t in text for t in ECHO_TRIGGERS):
        return _Script("injection:echo_system", final="echo")
    if any(t in text for t in CROSS_REQUESTER_TRIGGERS):
        return _Script("injection:cross_requester", [_lookup(requester_id="u-someone-else")])
    if any(t in text for t in STAFF_TRIGGERS):
        return _Script("injection:cross_tenant", [_lookup(tenant_id="internal")])
    for trigger in ESCALATION_TRIGGERS:
        if trigger in text:
            return _Script(f"escalation:{trigger}", [_escalate(trigger)], final="escalated")
    if thread.answered_before:
        followup = _followup_script(ticket, thread)
        if followup is not None:
            return followup
    search = _call(SEARCH_TOOL, query=ticket.keywords())
    if any(w in text for w in ORDER_WORDS):
        return _Script("order", [_lookup(), search])
    return _Script("question", [search])


def _followup_script(ticket: TicketText, thread: Thread) -> _Script | None:
    """A customer writing back after an answer (shared/simulator/followup.py): unsatisfied
    twice escalates, once searches again; a confirmation closes; anything else is a question."""
    said = message_text(ticket.text)
    if unsatisfied(said):
        if thread.unsatisfied_before:
            reason = "The customer says the problem is still not solved after two answers."
            return _Script("followup:unsatisfied_again", [_call(ESCALATE_TOOL, reason=reason)],
                           final="escalated")  # fmt: skip
        first = TicketText(thread.first_question, "", ())
        query = f"{first.keywords()} troubleshooting"
        return _Script("followup:unsatisfied", [_call(SEARCH_TOOL, query=query)], tone="retry")
    if confirms(said):
        return _Script("followup:confirmed", tone="closing")
    return None


def _directive_script(name: str, ticket: TicketText) -> _Script | None:
    rule = f"directive:{name}"
    query = ticket.keywords()
    number = (ticket.directive(name) or (name, None))[1] or 0
    scripts: dict[str, Callable[[], _Script]] = {
        "cross_tenant": lambda: _Script(
            rule, [_lookup(tenant_id="other-tenant", requester_id="u-other")]
        ),
        "cross_requester": lambda: _Script(rule, [_lookup(requester_id="u-someone-else")]),
        "echo_system": lambda: _Script(rule, final="echo"),
        "leak_email": lambda: _Script(rule, final="leak", variant=number),
        "escalate_leak": lambda: _Script(
            rule, [_call(ESCALATE_TOOL, reason=wording.leaked_reason())], final="escalated"
        ),
        "loop": lambda: _Script(rule, endless=lambda _turn: _call(SEARCH_TOOL, query=query)),
        "runaway": lambda: _Script(
            rule, endless=lambda turn: _call(SEARCH_TOOL, query=f"{query} {turn + 1}")
        ),
        "long": lambda: _Script(rule, [_call(SEARCH_TOOL, query=query)], final="long"),
        "unknown_tool": lambda: _Script(rule, [ToolCall(UNKNOWN_TOOL, "{}")]),
        "bad_args": lambda: _Script(rule, [ToolCall(LOOKUP_TOOL, BAD_JSON_ARGS)]),
        "escalate": lambda: _Script(rule, [_escalate("escalate directive")], final="escalated"),
    }
    build = scripts.get(name)
    return build() if build else None  # `slow` and unknown names do not change the decision


def _final_text(script: _Script, conv: Conversation, rng: Any) -> str:
    if script.final == "echo":
        return wording.echo_reply(conv.system)
    if script.final == "leak":
        return wording.leak_reply(rng, script.variant)
    if script.final == "escalated":
        return wording.escalated_reply(rng)
    if script.final == "long":
        return wording.long_text(0)
    if script.tone == "closing":
        return wording.closing_reply(rng)
    if script.tone == "retry":
        return wording.retry_reply(rng, conv.first_article_title, conv.first_article_url)
    return wording.reply_body(
        rng, conv.first_article_title, conv.first_article_url, conv.searched_nothing
    )


def _offered_call(
    call: ToolCall, offered: list[str], lookup: LookupTool | None, ticket: TicketText
) -> ToolCall | None:
    """The planned call as made with the tools offered (None: skipped). A planned lookup goes
    to the offered lookup tool, with the ids an injection forges kept on top."""
    if call.name != LOOKUP_TOOL:
        return call if call.name in offered or call.name == UNKNOWN_TOOL else None
    if lookup is None:
        return None
    if call.arguments == BAD_JSON_ARGS:
        return ToolCall(lookup.name, BAD_JSON_ARGS)
    forged = {k: v for k, v in json.loads(call.arguments).items() if k != "kind"}
    return ToolCall(lookup.name, lookup_arguments(lookup, ticket, forged))


def _forced(
    name: str,
    ticket: TicketText,
    conv: Conversation,
    script: _Script,
    rng: Any,
    lookup: LookupTool | None,
) -> ToolCall:
    if name == REPLY_TOOL:
        return _reply_call(_final_text(script, conv, rng))
    if name == SEARCH_TOOL:
        return _call(SEARCH_TOOL, query=ticket.keywords())
    if lookup is not None and name == lookup.name:
        return ToolCall(name, lookup_arguments(lookup, ticket, {}))
    if name == ESCALATE_TOOL:
        return _escalate("forced by tool_choice")
    return ToolCall(name, "{}")


def _call(name: str, **arguments: str) -> ToolCall:
    return ToolCall(name, json.dumps(arguments, ensure_ascii=False))


def _lookup(**ids: str) -> ToolCall:
    return _call(LOOKUP_TOOL, kind="all", **ids)


def _escalate(trigger: str) -> ToolCall:
    return _call(ESCALATE_TOOL, reason=wording.escalation_reason(trigger))


def _reply_call(body: str) -> ToolCall:
    return _call(REPLY_TOOL, body=body)
