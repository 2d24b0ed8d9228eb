"""`paceline kb` as people run it: a subprocess against the real Redis. JSON on stdout, one
line on stderr and a non-zero exit for anything wrong, never a traceback; a killed import
leaves the previous version served."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

from shared.keys import Keys
from tests.conftest import REDIS_URL
from tests.shared.knowledge.conftest import DEMO_KB, DEMO_QUESTIONS, write_article


def env(namespace: str) -> dict[str, str]:
    # Hermetic: whatever PACELINE_* the person running the tests has set is dropped.
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("PACELINE_")}
    return {**base, "PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace}


def kb(namespace: str, cwd: Path, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "kb", *args],
        cwd=cwd,  # not the repository: no .env of the developer's is read
        env=env(namespace),
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def ok_json(namespace: str, cwd: Path, *args: str, stdin: bytes | None = None) -> Any:
    code, out, err = kb(namespace, cwd, *args, "--json", stdin=stdin)
    assert code == 0, err
    assert err == ""  # nothing but the JSON document (no library's log lines either)
    return json.loads(out)


def one_line_error(result: tuple[int, str, str], code: int, text: str) -> None:
    got_code, out, err = result
    assert got_code == code, (got_code, out, err)
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("paceline: "), err
    assert text in err, err


def test_import_search_list_show_stats_delete_eval(namespace: str, tmp_path: Path) -> None:
    summary = ok_json(namespace, tmp_path, "import", str(DEMO_KB), "--tenant", "acme")
    assert summary["counts"] == {
        "added": 35,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "skipped": 0,
    }
    again = ok_json(namespace, tmp_path, "import", str(DEMO_KB), "--tenant", "acme")
    assert again["counts"]["unchanged"] == 35 and not again["published"]
    hits = ok_json(
        namespace, tmp_path, "search", "i forgot my pasword", "--tenant", "acme", "--limit", "2"
    )
    assert [set(h) for h in hits] == [
        {"id", "title", "url", "source", "section", "score", "snippet"}
    ] * 2
    assert hits[0]["id"] == "password-reset" and hits[0]["source"] == "password/password-reset.md"
    listed = ok_json(namespace, tmp_path, "list", "--tenant", "acme")
    assert len(listed) == 35 and {"id", "title", "url", "source", "locale", "sections"} <= set(
        listed[0]
    )
    shown = ok_json(namespace, tmp_path, "show", "gift-cards", "--tenant", "acme")
    assert shown["title"] == "Gift cards and store credit" and shown["sections"][0][
        "text"
    ].startswith("Gift cards never expire")
    stats = ok_json(namespace, tmp_path, "stats", "--tenant", "acme")
    assert stats["articles"] == 35 and stats["embedder"] == "wordllama/l2_supercat_256"
    deleted = ok_json(namespace, tmp_path, "delete", "gift-cards", "--tenant", "acme")
    assert deleted["removed"] == ["gift-cards"]
    one_line_error(
        kb(namespace, tmp_path, "show", "gift-cards", "--tenant", "acme"),
        1,
        "has no article 'gift-cards'",
    )
    ok_json(namespace, tmp_path, "import", str(DEMO_KB), "--tenant", "acme")
    report = ok_json(
        namespace, tmp_path, "eval", str(DEMO_QUESTIONS), "--tenant", "acme", "--split", "heldout"
    )
    assert report["questions"] == 35 and report["recall_at_3"] >= 0.75  # a regression guard
    assert {"recall_at_1", "recall_at_3", "mrr", "misses"} <= set(report)
    for miss in report["misses"]:
        assert set(miss) == {"q", "expected", "rank", "first"}


def test_stdin_and_formats(namespace: str, tmp_path: Path) -> None:
    page = {
        "articles": [
            {"id": 7, "title": "Opening hours", "body": "<p>9 to 5.</p>", "html_url": "https://z/7"}
        ]
    }
    summary = ok_json(
        namespace,
        tmp_path,
        "import",
        "-",
        "--tenant",
        "globex",
        "--format",
        "zendesk",
        stdin=json.dumps(page).encode(),
    )
    assert summary["added"] == ["7"]
    (hit,) = ok_json(
        namespace, tmp_path, "search", "when are you open", "--tenant", "globex", "--limit", "1"
    )
    assert (hit["id"], hit["source"], hit["url"]) == ("7", "zendesk:7", "https://z/7")


def test_bad_input_never_a_traceback(namespace: str, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.json").write_text('{"articles": [}')
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "a.md").write_bytes(b"\x00\x01\x02")
    one_line_error(
        kb(namespace, tmp_path, "import", "nope", "-t", "acme"), 2, "nope: no such file or folder"
    )
    one_line_error(
        kb(namespace, tmp_path, "import", "empty", "-t", "acme"),
        1,
        "empty folder, nothing to import",
    )
    one_line_error(
        kb(namespace, tmp_path, "import", "bad.json", "-t", "acme"),
        1,
        "bad.json: malformed JSON (line 1",
    )
    one_line_error(
        kb(namespace, tmp_path, "import", "bad.json", "-t", "acme", "--format", "pdf"),
        1,
        "unknown format 'pdf'",
    )
    one_line_error(
        kb(namespace, tmp_path, "import", "bin", "-t", "acme"),
        1,
        "nothing to import for tenant 'acme' (1 skipped; first: a.md: binary file",
    )
    one_line_error(
        kb(namespace, tmp_path, "import", str(DEMO_KB), "-t", "no such tenant"),
        1,
        "unknown tenant name 'no such tenant'",
    )
    one_line_error(
        kb(namespace, tmp_path, "search", "x", "-t", "nobody"),
        1,
        "tenant 'nobody' has no help centre",
    )
    one_line_error(
        kb(namespace, tmp_path, "eval", "missing.jsonl", "-t", "nobody"),
        1,
        "tenant 'nobody' has no help centre",
    )
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert client.keys(f"{namespace}:*") == []  # nothing half-imported, nothing at all
    finally:
        client.close()
    # A file too large for an article is skipped with its reason; the rest is imported
    write_article(tmp_path / "mixed", "ok.md", "# Fine\n\nText.\n")
    with (tmp_path / "mixed" / "huge.md").open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    summary = ok_json(namespace, tmp_path, "import", "mixed", "-t", "acme")
    assert summary["added"] == ["ok"]
    assert summary["skipped"] == [
        {"ref": "huge.md", "reason": "52,428,800 bytes, over the 1 MB cap"}
    ]


def test_a_killed_import_leaves_the_previous_version_served(namespace: str, tmp_path: Path) -> None:
    # Given a served help centre
    ok_json(namespace, tmp_path, "import", str(DEMO_KB), "--tenant", "acme")
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    keys = Keys(namespace)
    before = client.get(keys.kb_current("acme"))
    # And a large new version being imported
    for n in range(3000):
        write_article(
            tmp_path / "big", f"a{n}.md", f"# Topic {n}\n\n" + f"Paragraph about parcels {n}. " * 30
        )
    argv = ["kb", "import", "big", "--tenant", "acme", "--replace"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli.main", *argv],
        cwd=tmp_path, env=env(namespace), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # When it is killed with SIGKILL while it holds the tenant's import lock
        deadline = time.monotonic() + 60
        while not client.exists(keys.kb_lock("acme")):
            assert proc.poll() is None and time.monotonic() < deadline, "the import never started"
            time.sleep(0.02)
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        # Then the previous version is served, whole, and whatever it wrote expires
        assert client.get(keys.kb_current("acme")) == before
        hits = ok_json(
            namespace, tmp_path, "search", "forgot my password", "--tenant", "acme", "--limit", "1"
        )
        assert hits[0]["id"] == "password-reset"
        for key in client.keys(keys.kb_index("acme", "*")):
            assert key == keys.kb_index("acme", before) or client.ttl(key) > 0
        assert 0 < client.pttl(keys.kb_lock("acme")) <= 15_000  # the lease ends on its own
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        client.close()


def test_the_demo_imports_its_help_centre_through_kb_import(namespace: str) -> None:
    # Given the environment `paceline up --demo` hands its processes
    from shared.cli.cmd_up import _import_demo_help_centre

    # When the demo imports its help centre (kb import's code, the Markdown in the repo)
    _import_demo_help_centre(env(namespace))
    # Then each demo tenant has the 35 articles, and a second run changes nothing
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = Keys(namespace)
        assert client.smembers(keys.kb_tenants) == {"acme", "globex", "initech"}
        versions = {t: client.get(keys.kb_current(t)) for t in ("acme", "globex", "initech")}
        _import_demo_help_centre(env(namespace))
        assert {t: client.get(keys.kb_current(t)) for t in versions} == versions
    finally:
        client.close()
    listed = ok_json(namespace, Path("/"), "list", "--tenant", "globex")
    assert len(listed) == 35
