"""Imports against the real Redis: idempotent by id and content hash, all or nothing, one at
a time per tenant, and a failure half-way leaves the previous version served."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from shared.errors import KnowledgeError
from shared.knowledge.embed import Embedded, WordLlamaEmbedder
from shared.knowledge.importers import read_source
from shared.knowledge.store import STAGING_TTL_S
from tests.shared.knowledge.conftest import DEMO_KB, KB, write_article


def folder(tmp_path: Path) -> Path:
    root = tmp_path / "hc"
    write_article(root, "refunds.md", "# Refunds\n\nMoney back within 30 days.\n", id="refunds")
    write_article(root, "shipping.md", "# Shipping\n\nParcels take three days.\n", id="shipping")
    write_article(
        root, "login.md", "# Login\n\nReset your password from the sign-in page.\n", id="login"
    )
    return root


def test_reimport_is_idempotent_and_reports_each_change(kb: KB, tmp_path: Path) -> None:
    root = folder(tmp_path)
    first = kb.import_path(root, "acme")
    assert sorted(first.added) == ["login", "refunds", "shipping"] and first.published
    # Re-importing the same folder changes nothing: no new version, nothing embedded
    again = kb.import_path(root, "acme")
    assert sorted(again.unchanged) == ["login", "refunds", "shipping"]
    assert again.added == again.updated == again.removed == [] and not again.published
    assert again.version == first.version and again.embedded_sections == 0
    assert kb.store.current_version("acme") == first.version
    # One edited, one new, one gone: without --replace the missing one stays
    write_article(root, "refunds.md", "# Refunds\n\nMoney back within 60 days.\n", id="refunds")
    write_article(root, "gifts.md", "# Gift cards\n\nThey never expire.\n", id="gifts")
    (root / "login.md").unlink()
    (root / "notes.bin").write_bytes(b"\x00\x01")
    third = kb.import_path(root, "acme")
    assert third.added == ["gifts"] and third.updated == ["refunds"] and third.removed == []
    assert third.embedded_sections == 2  # only what changed is embedded
    assert [(s.ref, s.reason) for s in third.skipped] == [
        ("notes.bin", "unsupported file type '.bin'")
    ]
    assert kb.search("acme", "how do i reset my password")[0].id == "login"
    # With --replace the missing one is removed
    fourth = kb.import_path(root, "acme", replace_all=True)
    assert fourth.removed == ["login"] and sorted(fourth.unchanged) == [
        "gifts",
        "refunds",
        "shipping",
    ]
    assert "login" not in [h.id for h in kb.search("acme", "reset password sign-in", 5)]
    assert "60 days" in kb.search("acme", "refund money back")[0].text


def test_dry_run_reports_without_writing(kb: KB, tmp_path: Path) -> None:
    summary = kb.import_path(folder(tmp_path), "acme", dry_run=True)
    assert sorted(summary.added) == ["login", "refunds", "shipping"] and not summary.published
    assert kb.store.current_version("acme") is None
    assert kb.client.keys(f"{kb.keys.namespace}:*") == []


def test_locales_not_served_are_skipped(kb: KB, tmp_path: Path) -> None:
    root = tmp_path / "hc"
    write_article(root, "en.md", "# Hello\n\nEnglish.\n", locale="en-us")
    write_article(root, "fr.md", "# Bonjour\n\nFrançais.\n", locale="fr")
    write_article(root, "plain.md", "# Plain\n\nNo locale given.\n")
    summary = kb.import_path(root, "acme")
    assert sorted(summary.added) == ["en", "plain"] and summary.locales == ["en"]
    assert [(s.ref, s.reason) for s in summary.skipped] == [
        ("fr.md", "locale fr not served (serves en)")
    ]
    both = kb.import_path(root, "acme", locales=["en", "fr"])
    assert both.added == ["fr"] and both.skipped == []
    # The served locales are remembered for the next import
    assert kb.import_path(root, "acme").locales == ["en", "fr"]


def test_nothing_importable_is_an_error_and_changes_nothing(kb: KB, tmp_path: Path) -> None:
    kb.import_path(folder(tmp_path), "acme")
    before = kb.store.current_version("acme")
    bad = tmp_path / "bad"
    (bad / "x.md").parent.mkdir()
    (bad / "x.md").write_bytes(b"\xff\xfe")
    with pytest.raises(
        KnowledgeError,
        match=r"nothing to import for tenant 'acme' \(1 skipped; first: x.md: not UTF-8",
    ):
        kb.import_path(bad, "acme", replace_all=True)
    assert kb.store.current_version("acme") == before
    with pytest.raises(KnowledgeError, match="unknown tenant name 'bad tenant!'"):
        kb.import_path(bad, "bad tenant!")


class FailingEmbedder:
    """The real embedder, failing once `fail_after` batches went through (a crash half-way)."""

    def __init__(self, inner: WordLlamaEmbedder, fail_after: int) -> None:
        self.name = inner.name
        self.priced_model = None
        self._inner = inner
        self._left = fail_after

    def embed(self, texts: Sequence[str]) -> Embedded:
        if self._left == 0:
            raise RuntimeError("embedder died half-way")
        self._left -= 1
        return self._inner.embed(texts)


def test_a_failure_half_way_leaves_the_previous_version_served(
    kb: KB, tmp_path: Path, embedder: WordLlamaEmbedder
) -> None:
    # Given a served version of the demo help centre
    kb.import_path(DEMO_KB, "acme")
    before = kb.store.current_version("acme")
    # And a new version of 600 articles (three embedding batches) whose embedder dies
    root = tmp_path / "big"
    for n in range(600):
        write_article(root, f"a{n}.md", f"# Topic {n}\n\nText number {n} about parcels.\n")
    importer = kb.importer()
    importer._embedder = FailingEmbedder(embedder, fail_after=2)  # type: ignore[assignment]
    with pytest.raises(RuntimeError, match="half-way"):
        importer.run("acme", read_source(str(root)))
    # Then the previous version is still the one served, whole, and the lock is free
    assert kb.store.current_version("acme") == before
    assert kb.search("acme", "send back a sweater", 3)[0].id in {"returns-how", "refund-policy"}
    assert not kb.client.exists(kb.keys.kb_lock("acme"))
    assert len(kb.client.keys(kb.keys.kb_index("acme", "*"))) == 1


def test_a_staged_image_expires_unless_published(kb: KB) -> None:
    with kb.store.locked("acme") as lock:
        kb.store.stage(lock, "v-orphan", b"not published")
    ttl = kb.client.ttl(kb.keys.kb_index("acme", "v-orphan"))
    assert 0 < ttl <= STAGING_TTL_S
    assert kb.store.current_version("acme") is None


def test_one_import_at_a_time_per_tenant(kb: KB, tmp_path: Path) -> None:
    root = folder(tmp_path)
    with kb.store.locked("acme"):
        with pytest.raises(KnowledgeError, match="another import is running"):
            kb.import_path(root, "acme")
        # Another tenant is not held up
        assert kb.import_path(root, "globex").published
    assert kb.import_path(root, "acme").published


def test_publishing_needs_the_lock_it_was_staged_under(kb: KB) -> None:
    with kb.store.locked("acme") as lock:
        kb.store.stage(lock, "v1", b"x")
        kb.client.delete(kb.keys.kb_lock("acme"))  # the lease ran out
        with pytest.raises(KnowledgeError, match="lock lost"):
            kb.store.publish(lock, "v1")
    assert kb.store.current_version("acme") is None


def test_replaced_versions_keep_a_short_grace_then_go(kb: KB, tmp_path: Path) -> None:
    root = folder(tmp_path)
    v1 = kb.import_path(root, "acme").version
    write_article(root, "new.md", "# New\n\nNew text.\n")
    v2 = kb.import_path(root, "acme").version
    assert v1 and v2 and v1 != v2
    assert 0 < kb.client.ttl(kb.keys.kb_index("acme", v1)) <= 120
    assert kb.client.ttl(kb.keys.kb_index("acme", v2)) == -1


def test_delete_one_article(kb: KB, tmp_path: Path) -> None:
    kb.import_path(folder(tmp_path), "acme")
    summary = kb.importer().delete("acme", "shipping")
    assert summary.removed == ["shipping"] and summary.published
    index = kb.cache.get("acme")
    kb.clock.advance(60)
    index = kb.cache.get("acme")
    assert index is not None and sorted(index.ids) == ["login", "refunds"]
    # Unchanged articles kept their vectors (nothing re-embedded)
    vectors = index.article_vectors("login")
    assert vectors is not None and vectors.shape == (1, 256) and np.isfinite(vectors).all()
    with pytest.raises(KnowledgeError, match="has no article 'shipping'"):
        kb.importer().delete("acme", "shipping")
