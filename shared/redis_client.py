"""Redis connections, built from settings in entry points (no module-level client)."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import hiredis
import redis
from redis._parsers import hiredis as _hiredis_parser
from redis.commands.core import Script
from redis.exceptions import NoScriptError, ResponseError

from shared.settings import Settings

POOL_WAIT_S = 10
# RESP3 push messages (hiredis >= 3.2); a class nothing is an instance of, before.
_PUSH: type = getattr(hiredis, "PushNotification", type("_NoPush", (), {}))
# What redis-py's hiredis reader answers when a reply is not whole yet.
_NOT_ENOUGH_DATA: Any = getattr(_hiredis_parser, "NOT_ENOUGH_DATA", False)


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


class ThreadConnections:
    """One connection per thread for the hot paths (admission, draw and settle around every
    model call), outside the client's pool. Taking a pooled connection and giving it back costs
    redis-py 8 a lock, a poll() for stale replies and its metrics on every round trip, a large
    share of admitting a ticket (docs/design.md). These are made from the pool's own settings
    (address, auth, TLS, timeouts) and reconnect on next use after an error.

    A connection lives as long as its thread (collected with the thread's locals, which closes
    it) or until `close()`. A forked child makes its own instead of sharing the parent's."""

    def __init__(self, client: redis.Redis) -> None:
        self._pool = client.connection_pool
        self._local = threading.local()
        self._made: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()

    def get(self) -> Any:
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            return held[1]
        conn = self._pool.connection_class(**self._pool.connection_kwargs)
        self._local.held = (os.getpid(), conn)
        with self._lock:
            self._made.add(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            made = list(self._made)
            self._made.clear()
        for conn in made:
            conn.disconnect()


class LeanPipeline:
    """A minimal pipeline for the hot paths (admission, the ledger's batches): commands are
    packed by hiredis in C and sent in one write, replies read in order, an error reply left
    in its slot as the exception. redis-py's own pipeline re-checks every argument in Python,
    runs its observability hooks per command and, for scripts, sends SCRIPT EXISTS first (a
    round trip of its own). Only the commands those paths use; replies as redis-py gives."""

    def __init__(self, client: redis.Redis, conns: ThreadConnections | None = None) -> None:
        self._client = client
        self._conns = conns
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
        replies = send_commands(self._client, self._commands, self._conns)
        for i in self._dicts:
            flat = replies[i]
            if isinstance(flat, list):
                replies[i] = dict(zip(flat[::2], flat[1::2], strict=True))
        return replies


def send_commands(
    client: redis.Redis, commands: Sequence[tuple[Any, ...]], conns: ThreadConnections | None = None
) -> list[Any]:
    """Send `commands` in one write on one connection (this thread's own when `conns` is
    given, else a pooled one); their replies, in order."""
    packed = b"".join(hiredis.pack_command(command) for command in commands)
    pool = client.connection_pool
    conn = conns.get() if conns is not None else pool.get_connection()
    try:
        conn.send_packed_command([packed], check_health=False)
        return _read_replies(conn, len(commands))
    except BaseException:
        conn.disconnect()  # unread replies would poison reuse; the next use reconnects
        raise
    finally:
        if conns is None:
            pool.release(conn)


def _read_replies(conn: Any, n: int) -> list[Any]:
    """`n` replies in order, an error reply in its slot as the exception. With hiredis (a
    dependency), straight from the connection's own reader: redis-py's `read_response` runs
    its host-error string, push and health checks in Python for every reply, and the hot
    paths read a batch's replies at once. A reply the reader cannot take whole reads more
    from the socket, as `read_response` would."""
    parser: Any = getattr(conn, "_parser", None)
    reader = getattr(parser, "_reader", None)
    if reader is None:
        return [_read_one(conn) for _ in range(n)]
    replies: list[Any] = []
    while len(replies) < n:
        reply = reader.gets()
        if reply is _NOT_ENOUGH_DATA:
            parser.read_from_socket()
        elif isinstance(reply, _PUSH):  # RESP3 out-of-band: redis-py's own handling
            handle = getattr(parser, "handle_push_response", None)
            if handle is not None:
                handle(reply)
        elif isinstance(reply, redis.ConnectionError):
            raise reply
        else:
            replies.append(reply)
    return replies


def _read_one(conn: Any) -> Any:
    try:
        return conn.read_response()
    except ResponseError as exc:  # an error reply; the connection is still in step
        return exc


def evalsha_batch(
    client: redis.Redis,
    script: Script,
    calls: Sequence[tuple[Sequence[Any], Sequence[Any]]],
    conns: ThreadConnections | None = None,
) -> list[Any]:
    """Run `script` once per (keys, args) in one round trip (each call its own atomic script);
    replies in order, an error reply in its slot as the exception. The SHA is sent directly:
    a server that lost the script answers NOSCRIPT, the script did not run, and only those
    calls are sent again once it is loaded."""

    trip = RoundTrip(client, conns)
    for keys, args in calls:
        trip.script(script, keys, args)
    return trip.execute()


class RoundTrip:
    """Different scripts and plain commands sent in one write, replies in order (an error
    reply in its slot as the exception): what several stores write after one event (a model
    call's settle, the circuit's record, the provider's limits) costs one round trip, each
    script still atomic on its own. A script the server lost (NOSCRIPT) did not run: it is
    loaded and only those slots are sent again, after the rest ran (so only writes whose
    order does not matter belong in one round trip)."""

    def __init__(self, client: redis.Redis, conns: ThreadConnections | None = None) -> None:
        self._client = client
        self._conns = conns
        self._commands: list[tuple[Any, ...]] = []
        self._scripts: dict[int, Script] = {}

    def script(self, script: Script, keys: Sequence[Any], args: Sequence[Any]) -> int:
        self._scripts[len(self._commands)] = script
        self._commands.append(("EVALSHA", script.sha, len(keys), *keys, *args))
        return len(self._commands) - 1

    def command(self, *parts: Any) -> int:
        self._commands.append(parts)
        return len(self._commands) - 1

    def hincrby(self, key: str, field: str, amount: int) -> int:
        return self.command("HINCRBY", key, field, amount)

    def expire(self, key: str, seconds: int) -> int:
        return self.command("EXPIRE", key, seconds)

    def execute(self) -> list[Any]:
        if not self._commands:
            return []
        replies = send_commands(self._client, self._commands, self._conns)
        lost = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if lost:
            for script in {id(self._scripts[i]): self._scripts[i] for i in lost}.values():
                script.sha = self._client.script_load(script.script)
            again = [self._resent(i) for i in lost]
            for i, reply in zip(lost, send_commands(self._client, again, self._conns), strict=True):
                replies[i] = reply
        return replies

    def _resent(self, i: int) -> tuple[Any, ...]:
        return ("EVALSHA", self._scripts[i].sha, *self._commands[i][2:])
