"""`POST /v1/embeddings` through the openai SDK: deterministic vectors, `usage`, both
encodings, `dimensions`, bad requests refused with OpenAI's error shape, faults applied."""

from __future__ import annotations

import httpx
import numpy as np
import openai
import pytest

from tests.conftest import SimulatorProcess
from tests.shared.simulator.helpers import client


def test_vectors_are_deterministic_unit_length_and_billed(simulator: SimulatorProcess) -> None:
    sdk = client(simulator.base_url)
    texts = [
        "How do I reset my password?",
        "Refunds take five days.",
        "How do I reset my password?",
    ]
    reply = sdk.embeddings.create(model="text-embedding-3-small", input=texts)
    vectors = np.array([d.embedding for d in reply.data])
    assert vectors.shape == (3, 1536) and [d.index for d in reply.data] == [0, 1, 2]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.array_equal(vectors[0], vectors[2])  # the same text, the same vector
    # Texts sharing words are closer than texts that share none
    other = sdk.embeddings.create(model="text-embedding-3-small", input="reset password link")
    query = np.array(other.data[0].embedding)
    assert query @ vectors[0] > query @ vectors[1]
    # usage: a token per four bytes, rounded up, per input
    assert reply.usage.prompt_tokens == sum(-(-len(t.encode()) // 4) for t in texts)
    assert reply.usage.total_tokens == reply.usage.prompt_tokens
    # A second run answers the same (no state, no seed in the vectors)
    again = sdk.embeddings.create(model="text-embedding-3-small", input=texts)
    assert [d.embedding for d in again.data] == [d.embedding for d in reply.data]


def test_base64_encoding_and_dimensions(simulator: SimulatorProcess) -> None:
    sdk = client(simulator.base_url)
    as_float = sdk.embeddings.create(
        model="text-embedding-3-large", input="hello there", encoding_format="float"
    )
    assert len(as_float.data[0].embedding) == 3072
    # The SDK asks for base64 by default and decodes it
    default = sdk.embeddings.create(model="text-embedding-3-large", input="hello there")
    assert np.allclose(default.data[0].embedding, as_float.data[0].embedding, atol=1e-6)
    short = sdk.embeddings.create(model="text-embedding-3-small", input="hello", dimensions=64)
    assert len(short.data[0].embedding) == 64


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "text-embedding-3-small", "input": []}, "input"),
        ({"model": "text-embedding-3-small", "input": [1, 2, 3]}, "input"),
        ({"input": "x"}, "model"),
        ({"model": "text-embedding-3-small", "input": "x", "dimensions": 0}, "dimensions"),
    ],
)
def test_bad_requests_are_400(
    simulator: SimulatorProcess, body: dict[str, object], param: str
) -> None:
    resp = httpx.post(f"{simulator.base_url}/embeddings", json=body, timeout=5)
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == param


def test_faults_apply_to_embeddings(private_simulator: SimulatorProcess) -> None:
    private_simulator.faults(error_rate=1.0, error_kind="unavailable")
    sdk = client(private_simulator.base_url)
    with pytest.raises(openai.InternalServerError):
        sdk.embeddings.create(model="text-embedding-3-small", input="x")
    stats = private_simulator.stats()
    assert stats["by_status"] == {"503": 1}
