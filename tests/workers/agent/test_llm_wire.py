"""What the LLM client puts on the wire: messages and tools sent through `extra_body` (to skip
the SDK's per-key transformer) must arrive exactly as given, with the model and max_tokens."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import make_settings
from workers.agent.llm import LLMClient
from workers.agent.tools.schemas import tool_schemas

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Hello."},
        }
    ],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 4},
    },
}


class _Recorder(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        out = json.dumps(COMPLETION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("x-ratelimit-remaining-tokens", "999")
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_messages_and_tools_arrive_exactly_as_given(namespace: str) -> None:
    _Recorder.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = make_settings(
        namespace, llm_base_url=f"http://127.0.0.1:{server.server_address[1]}/v1"
    )
    client = LLMClient(settings)
    messages = [
        {"role": "system", "content": "You answer support tickets."},
        {"role": "user", "content": "<ticket>Où est ma commande ? ✓</ticket>"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "search_kb", "arguments": '{"query": "order"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"articles": []}'},
    ]
    try:
        done = client.complete("gpt-4o-mini", messages, tool_schemas(), 321)
    finally:
        client.close()
        server.shutdown()
        server.server_close()
    # Then the request carried exactly what was given
    [sent] = _Recorder.bodies
    assert sent["model"] == "gpt-4o-mini" and sent["max_tokens"] == 321
    assert sent["messages"] == messages
    assert sent["tools"] == tool_schemas()
    # And the answer, its usage and the provider's headers came back
    assert done.message.content == "Hello."
    assert (done.usage.prompt_tokens, done.usage.cached_tokens) == (12, 4)
    assert done.headers["x-ratelimit-remaining-tokens"] == "999"
