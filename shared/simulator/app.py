"""The HTTP face of the simulator: OpenAI's `/v1` routes, Azure's `/openai` routes, `/_sim`.

Handlers read the raw body and write pre-encoded JSON: at zero latency the server's own
overhead is what a benchmark measures, so validation is done by hand, not by pydantic models.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from shared.clock import Clock
from shared.demo_store.routes import add_routes as add_demo_store
from shared.simulator import azure, dialects
from shared.simulator.config import ConfigError, Dialect, SimConfig
from shared.simulator.engine import Answer, Simulator, model_ids
from shared.simulator.faults import ErrorReply, invalid_request
from shared.simulator.responses import DONE, event

CREATED_S = 1_715_000_000  # a fixed "created" for the model list


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(doc, separators=(",", ":")).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _error(reply: ErrorReply, dialect: Dialect = Dialect.OPENAI) -> Response:
    headers = dialects.response_headers(None, dialect, reply.headers)
    return _json(dialects.error_body(reply, dialect), reply.status, headers)


def _key_matches(given: str | None, expected: str) -> bool:
    return not expected or hmac.compare_digest((given or "").encode(), expected.encode())


def _invalid_key() -> Response:
    reply = ErrorReply(
        401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
    )
    return _json(reply.body(), 401)


def build_app(config: SimConfig, clock: Clock | None = None) -> FastAPI:
    sim = Simulator(config, clock)
    app = FastAPI(title="paceline simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.simulator = sim
    # The demo tenants' order system, read through their connectors (shared/demo_store).
    add_demo_store(app)

    def bearer(request: Request) -> str | None:
        value = request.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else None

    def served() -> list[str]:
        return [*model_ids(), *sim.config.deployment_names()]

    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        if not _key_matches(bearer(request), sim.config.api_key):
            return _invalid_key()
        data = [
            {"id": m, "object": "model", "created": CREATED_S, "owned_by": "paceline-sim"}
            for m in served()
        ]
        return _json({"object": "list", "data": data})

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        dialect = sim.config.dialect
        if not _key_matches(bearer(request), sim.config.api_key):
            return _invalid_key()
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(invalid_request("The request body is not valid JSON."), dialect)
        result = await sim.chat(raw, body)
        if isinstance(result, ErrorReply):
            return _error(result, dialect)
        return _answer(result, dialect)

    @app.get("/openai/models")
    async def azure_models(request: Request) -> Response:
        if "api-version" not in request.query_params:
            return _json(azure.resource_not_found(), 404)
        if not _key_matches(request.headers.get("api-key"), sim.config.api_key):
            return _json(azure.unauthorized(), 401)
        data = [{"id": m, "object": "model", "created_at": CREATED_S} for m in model_ids()]
        return _json({"object": "list", "data": data})

    @app.post("/openai/deployments/{deployment}/chat/completions")
    async def azure_chat(deployment: str, request: Request) -> Response:
        version = request.query_params.get("api-version")
        if not version:
            return _json(azure.resource_not_found(), 404)
        if not _key_matches(request.headers.get("api-key"), sim.config.api_key):
            return _json(azure.unauthorized(), 401)
        if not sim.serves(deployment):
            return _json(azure.deployment_not_found(), 404)
        raw = await request.body()
        request_id = str(uuid.uuid4())
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        result = await sim.chat(raw, body, deployment=deployment)
        if isinstance(result, ErrorReply):
            headers = azure.headers(result.headers, request_id)
            return _json(azure.error_body(result, version), result.status, headers)
        headers = azure.headers(result.headers, request_id)
        if not result.stream:
            doc = azure.decorate(result.completion.to_json(), result.output_filtered)
            return _json(doc, headers=headers)
        chunks = azure.stream_chunks(result.completion, result.include_usage)
        return _stream(_encoded(chunks), headers)

    @app.post("/v1/embeddings")
    async def create_embeddings(request: Request) -> Response:
        if not _key_matches(bearer(request), sim.config.api_key):
            return _invalid_key()
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(invalid_request("The request body is not valid JSON."))
        result = await sim.embed(body)
        return _error(result) if isinstance(result, ErrorReply) else _json(result)

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


def _answer(answer: Answer, dialect: Dialect) -> Response:
    completion = answer.completion
    headers = dialects.response_headers(completion, dialect, answer.headers)
    if dialect is Dialect.OPENAI and not answer.stream:
        return _json(completion.to_json(), headers=headers)
    if dialect is Dialect.OPENAI:
        return _stream(completion.sse_events(answer.include_usage), headers)
    if not answer.stream:
        return _json(dialects.completion_body(completion, dialect, answer.shape), headers=headers)
    chunks = dialects.completion_chunks(completion, dialect, answer.shape, answer.include_usage)
    return _stream(_encoded(chunks), headers)


def _encoded(chunks: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for chunk in chunks:
        yield event(chunk)
    yield DONE


def _stream(events: Iterator[bytes], headers: dict[str, str]) -> Response:
    # An async generator: Starlette would run a plain iterator in its thread pool.
    async def body() -> AsyncIterator[bytes]:
        for item in events:
            yield item

    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
