"""Reading a source file safely: a size cap checked before reading, binary and non-UTF-8
content refused with a one-line reason, a byte-order mark dropped."""

from __future__ import annotations

from pathlib import Path

from shared.knowledge.model import MAX_ARTICLE_BYTES

# A vendor export (JSON pages, CSV) holds many articles; each article is still capped.
MAX_EXPORT_BYTES = 256 * 1024 * 1024
_SNIFF_BYTES = 8192


class Unreadable(Exception):
    """Raised when a file cannot be read as text; the message is the one-line reason."""


def read_text(path: Path, *, limit_bytes: int = MAX_ARTICLE_BYTES) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from None
    if size > limit_bytes:
        raise Unreadable(f"{size:,} bytes, over the {_mb(limit_bytes)} cap")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from None
    return decode(raw)


def decode(raw: bytes) -> str:
    if b"\x00" in raw[:_SNIFF_BYTES]:
        raise Unreadable("binary file (NUL bytes), not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None


def _mb(n: int) -> str:
    return f"{n // (1024 * 1024)} MB"
