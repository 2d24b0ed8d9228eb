"""The hot paths' own pipeline: hiredis-packed commands, replies in order, NOSCRIPT healed."""

from __future__ import annotations

import threading
import uuid

import pytest
import redis

from shared.keys import Keys
from shared.redis_client import (
    LeanPipeline,
    RoundTrip,
    ThreadConnections,
    evalsha_batch,
    send_commands,
)


def test_a_script_the_server_does_not_know_is_loaded_and_only_the_lost_calls_run_again(
    r: redis.Redis, keys: Keys
) -> None:
    # Given a script never loaded on this server (a fresh text: NOSCRIPT on first use)
    counter = keys.namespace + ":lean:counter"
    script = r.register_script(f"-- {uuid.uuid4().hex}\nreturn redis.call('INCR', KEYS[1])")
    # When three calls of it go in one batch
    replies = evalsha_batch(r, script, [((counter,), ())] * 3)
    # Then the script was loaded, each call ran exactly once, in order
    assert replies == [1, 2, 3]
    assert r.get(counter) == "3"


def test_an_error_reply_stays_in_its_slot_and_the_connection_stays_in_step(
    r: redis.Redis, keys: Keys
) -> None:
    # Given a script that fails for one argument
    script = r.register_script(
        "if ARGV[1] == 'bad' then return redis.error_reply('ERR bad ticket') end return ARGV[1]"
    )
    # When a batch holds a failing call between two good ones
    replies = evalsha_batch(r, script, [((), ("a",)), ((), ("bad",)), ((), ("c",))])
    # Then the failure is the exception in its slot, the others are answered
    assert replies[0] == "a" and replies[2] == "c"
    assert isinstance(replies[1], redis.exceptions.ResponseError)
    assert "bad ticket" in str(replies[1])
    # And the pooled connection answers the next command, not a stale reply
    assert r.ping() is True


def test_lean_pipeline_replies_as_redis_py_would(r: redis.Redis, keys: Keys) -> None:
    # Given a hash with two fields and one missing key
    h, missing = keys.namespace + ":lean:h", keys.namespace + ":lean:none"
    r.hset(h, mapping={"state": "open", "retry_at_ms": "12"})
    # When reads of every kind the admission gates use go in one round trip
    pipe = LeanPipeline(r)
    pipe.hmget(h, ["state", "nope", "retry_at_ms"])
    pipe.hgetall(h)
    pipe.hgetall(missing)
    pipe.exists(missing)
    # Then each reply has the shape redis-py's own pipeline gives
    assert pipe.execute() == [
        ["open", None, "12"],
        {"state": "open", "retry_at_ms": "12"},
        {},
        0,
    ]


def _client_id(r: redis.Redis, conns: ThreadConnections) -> int:
    (cid,) = send_commands(r, [("CLIENT", "ID")], conns)
    return int(cid)


def test_each_thread_keeps_its_own_connection_outside_the_pool(r: redis.Redis) -> None:
    conns = ThreadConnections(r)
    try:
        # When one thread sends twice and another thread sends once
        first, again = _client_id(r, conns), _client_id(r, conns)
        other: list[int] = []
        t = threading.Thread(target=lambda: other.append(_client_id(r, conns)))
        t.start()
        t.join()
        # Then the thread reused its connection, the other thread had its own
        assert first == again
        assert other[0] != first
        # And neither came from (or went back to) the client's pool
        assert _client_id(r, conns) not in {int(r.client_id()) for _ in range(3)}
    finally:
        conns.close()


def test_a_dropped_connection_fails_that_call_and_the_next_one_reconnects(
    r: redis.Redis,
) -> None:
    conns = ThreadConnections(r)
    try:
        # Given this thread's connection killed by the server (a failover, a restart)
        before = _client_id(r, conns)
        r.client_kill_filter(_id=before)
        # When the next call goes out / Then it fails loudly, never a stale or missing reply
        with pytest.raises(redis.exceptions.ConnectionError):
            _client_id(r, conns)
        # And the call after that runs on a new connection
        assert _client_id(r, conns) != before
    finally:
        conns.close()


def test_close_closes_every_threads_connection(r: redis.Redis) -> None:
    conns = ThreadConnections(r)
    ids: list[int] = []
    threads = [threading.Thread(target=lambda: ids.append(_client_id(r, conns))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conns.close()
    # Then the server no longer lists any of them
    alive = {int(c["id"]) for c in r.client_list()}
    assert not set(ids) & alive


def test_replies_larger_than_one_socket_read_arrive_whole_and_in_order(
    r: redis.Redis, keys: Keys
) -> None:
    # Given values far larger than one read from the socket (64 KiB)
    big = keys.namespace + ":lean:big"
    values = [uuid.uuid4().hex * 5000 for _ in range(3)]  # 160 KB each
    # When they are written and read back in one round trip
    assert send_commands(r, [("SET", f"{big}{i}", v) for i, v in enumerate(values)]) == ["OK"] * 3
    replies = send_commands(r, [("GET", f"{big}{i}") for i in range(3)] + [("PING",)])
    # Then each reply is whole and in its place
    assert replies == [*values, "PONG"]


def test_a_resp3_push_between_replies_is_not_taken_for_a_reply(r: redis.Redis, keys: Keys) -> None:
    # Given this thread's connection speaks RESP3 and tracks a key it read
    conns = ThreadConnections(r)
    tracked = keys.namespace + ":lean:tracked"
    try:
        conn = conns.get()
        conn.connect()
        if str(conn.protocol) != "3":
            pytest.skip("the client speaks RESP2: no push messages")
        r.set(tracked, "1")
        send_commands(r, [("CLIENT", "TRACKING", "ON"), ("GET", tracked)], conns)
        # When another client changes that key (the server pushes an invalidation)
        r.set(tracked, "2")
        # Then the next batch's replies are its own, the push handled aside
        assert send_commands(r, [("GET", tracked), ("PING",)], conns) == ["2", "PONG"]
        assert send_commands(r, [("PING",)], conns) == ["PONG"]
    finally:
        conns.close()


def test_a_round_trip_carries_different_scripts_and_commands_each_healed_on_its_own(
    r: redis.Redis, keys: Keys
) -> None:
    # Given two scripts never loaded on this server and a plain command between them
    counter = keys.namespace + ":trip:counter"
    incr = r.register_script(f"-- {uuid.uuid4().hex}\nreturn redis.call('INCR', KEYS[1])")
    echo = r.register_script(f"-- {uuid.uuid4().hex}\nreturn ARGV[1]")
    trip = RoundTrip(r)
    trip.script(incr, (counter,), ())
    trip.command("INCRBY", counter, 10)
    trip.script(echo, (), ("hello",))
    trip.script(incr, (counter,), ())
    # When it is sent
    replies = trip.execute()
    # Then each ran exactly once; the lost scripts ran again after the command, once loaded
    assert replies == [11, 10, "hello", 12]
    assert r.get(counter) == "12"
    # And once known, a round trip runs in the order it was written
    again = RoundTrip(r)
    again.script(incr, (counter,), ())
    again.command("INCRBY", counter, 10)
    again.script(echo, (), ("bye",))
    assert again.execute() == [13, 23, "bye"]
    assert RoundTrip(r).execute() == []
