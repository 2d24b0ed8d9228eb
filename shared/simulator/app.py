"""The HTTP face of the simulator: OpenAI's `/v1` routes plus `/_sim` controls.

Handlers read the raw body and write pre-encoded JSON: at zero latency the server's own
overhead is what a benchmark measures, so validation is done by hand, not by pydantic models.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from shared.clock import Clock
from shared.simulator.config import ConfigError, SimConfig
from shared.simulator.engine import Answer, Simulator, model_ids
from shared.simulator.faults import ErrorReply, invalid_request

CREATED_S = 1_715_000_000  # a fixed "created" for the model list


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(doc, separators=(",", ":")).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _error(reply: ErrorReply) -> Response:
    return _json(reply.body(), reply.status, reply.headers)


def build_app(config: SimConfig, clock: Clock | None = None) -> FastAPI:
    sim = Simulator(config, clock)
    app = FastAPI(title="paceline simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.simulator = sim

    @app.get("/v1/models")
    async def list_models() -> Response:
        data = [
            {"id": m, "object": "model", "created": CREATED_S, "owned_by": "paceline-sim"}
            for m in model_ids()
        ]
        return _json({"object": "list", "data": data})

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(invalid_request("The request body is not valid JSON."))
        result = await sim.chat(raw, body)
        if isinstance(result, ErrorReply):
            return _error(result)
        return _answer(result)

    @app.get("/_sim/faults")
    async def get_faults() -> Response:
        return _json(sim.config.to_json())

    @app.post("/_sim/faults")
    async def set_faults(request: Request) -> Response:
        try:
            changes = json.loads(await request.body() or b"{}")
            if not isinstance(changes, dict):
                raise ConfigError("the body must be a JSON object")
            return _json(sim.reconfigure(changes).to_json())
        except (ValueError, ConfigError) as exc:
            return _error(invalid_request(str(exc)))

    @app.get("/_sim/stats")
    async def get_stats() -> Response:
        return _json(sim.stats.to_json())

    @app.post("/_sim/reset")
    async def reset() -> Response:
        sim.reset()
        return _json(sim.stats.to_json())

    return app


def _answer(answer: Answer) -> Response:
    completion = answer.completion
    if not answer.stream:
        return _json(completion.to_json(), headers=answer.headers)

    # An async generator: Starlette would run a plain iterator in its thread pool.
    async def events() -> AsyncIterator[bytes]:
        for event in completion.sse_events(answer.include_usage):
            yield event

    return StreamingResponse(events(), media_type="text/event-stream", headers=answer.headers)
