"""Reading a request body without ever holding more than the limit in memory."""

from __future__ import annotations

from starlette.requests import Request

from shared.errors import BodyTooLarge


async def read_limited(request: Request, max_bytes: int) -> bytes:
    """The raw body; refuses on Content-Length first, then counts while streaming.

    Both checks are needed: Content-Length can be absent (chunked) or lie downwards.
    """
    declared = request.headers.get("content-length")
    digits = (declared or "").strip()
    if digits.isascii() and digits.isdigit() and int(digits) > max_bytes:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
