"""Redis connections, built from settings in entry points (no module-level client)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hiredis
import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError, ResponseError

from shared.settings import Settings

POOL_WAIT_S = 10


def make_redis(settings: Settings, *, max_connections: int = 64) -> redis.Redis:
    """A client that returns `str`. The pool blocks (up to `POOL_WAIT_S`) when every
    connection is in use, instead of raising at once under a burst of threads."""
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        decode_responses=True,
        max_connections=max_connections,
        health_check_interval=30,
        socket_connect_timeout=5,
        socket_timeout=10,
        timeout=POOL_WAIT_S,
    )
    return redis.Redis(connection_pool=pool)


class LeanPipeline:
    """A minimal pipeline for the hot paths (admission, the ledger's batches): commands are
    packed by hiredis in C and sent in one write, replies read in order, an error reply left
    in its slot as the exception. redis-py's own pipeline re-checks every argument in Python,
    runs its observability hooks per command and, for scripts, sends SCRIPT EXISTS first (a
    round trip of its own). Only the commands those paths use; replies as redis-py gives."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._commands: list[tuple[Any, ...]] = []
        self._dicts: set[int] = set()

    def hmget(self, key: str, fields: Sequence[str]) -> None:
        self._commands.append(("HMGET", key, *fields))

    def hgetall(self, key: str) -> None:
        self._dicts.add(len(self._commands))
        self._commands.append(("HGETALL", key))

    def exists(self, key: str) -> None:
        self._commands.append(("EXISTS", key))

    def evalsha(self, sha: str, keys: Sequence[Any], args: Sequence[Any]) -> None:
        self._commands.append(("EVALSHA", sha, len(keys), *keys, *args))

    def execute(self) -> list[Any]:
        replies = send_commands(self._client, self._commands)
        for i in self._dicts:
            flat = replies[i]
            if isinstance(flat, list):
                replies[i] = dict(zip(flat[::2], flat[1::2], strict=True))
        return replies


def send_commands(client: redis.Redis, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Send `commands` in one write on one pooled connection; their replies, in order."""
    packed = b"".join(hiredis.pack_command(command) for command in commands)
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_packed_command([packed], check_health=False)  # type: ignore[no-untyped-call]
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(conn.read_response())
            except ResponseError as exc:  # an error reply; the connection is still in step
                replies.append(exc)
        return replies
    except BaseException:
        conn.disconnect()  # type: ignore[no-untyped-call]  # unread replies would poison reuse
        raise
    finally:
        pool.release(conn)


def evalsha_batch(
    client: redis.Redis, script: Script, calls: Sequence[tuple[Sequence[Any], Sequence[Any]]]
) -> list[Any]:
    """Run `script` once per (keys, args) in one round trip (each call its own atomic script);
    replies in order, an error reply in its slot as the exception. The SHA is sent directly:
    a server that lost the script answers NOSCRIPT, the script did not run, and only those
    calls are sent again once it is loaded."""

    def send(batch: Sequence[tuple[Sequence[Any], Sequence[Any]]]) -> list[Any]:
        return send_commands(client, [("EVALSHA", script.sha, len(k), *k, *a) for k, a in batch])

    replies = send(calls)
    lost = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if lost:
        script.sha = client.script_load(script.script)
        for i, reply in zip(lost, send([calls[i] for i in lost]), strict=True):
            replies[i] = reply
    return replies
