"""`POST /v1/embeddings`, deterministic: the same text always gets the same vector.

A vector is the text's words hashed into `dimensions` signed buckets (feature hashing), then
normalised, so texts that share words are close and retrieval over them behaves like a real
(if plain) embedding model. `usage.prompt_tokens` follows the simulator's token rule (a token
per four bytes, rounded up, per input). `encoding_format` may be `float` or `base64`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from typing import Any

from shared.simulator.faults import ErrorReply, invalid_request
from shared.simulator.usage import tokens_of_bytes

DIMENSIONS = {"text-embedding-3-large": 3072}
DEFAULT_DIMENSIONS = 1536
MAX_INPUTS = 2048
_WORD = re.compile(r"[^\W_]+")


def vector(text: str, dimensions: int) -> list[float]:
    values = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "big") % dimensions
        values[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embeddings(body: Any) -> dict[str, Any] | ErrorReply:
    if not isinstance(body, dict):
        return invalid_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return invalid_request("'model' is required.", "model")
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return invalid_request("'input' must be a string or a non-empty array of strings.", "input")
    if len(texts) > MAX_INPUTS:
        return invalid_request(f"'input' may hold at most {MAX_INPUTS} items.", "input")
    dimensions = body.get("dimensions", DIMENSIONS.get(model, DEFAULT_DIMENSIONS))
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        return invalid_request("'dimensions' must be a positive integer.", "dimensions")
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for n, text in enumerate(texts):
        values = vector(text, dimensions)
        embedding: Any = values
        if as_base64:
            embedding = base64.b64encode(struct.pack(f"<{dimensions}f", *values)).decode()
        data.append({"object": "embedding", "index": n, "embedding": embedding})
    tokens = sum(tokens_of_bytes(len(t.encode("utf-8"))) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
