"""Vector appends (real packaged model, real LanceDB in a temp dir): counts over several batches, and this
process's own appends extend the cached matrix in place instead of reloading the table."""

from __future__ import annotations

import pytest

from conftest import import_records, record_line
from memcollab.store import vectors
from memcollab.store.bank import Bank
from memcollab.store.embed import get_embedder
from memcollab.store.vectors import add_record_vectors, backfill, coverage, vector_index

C = ("a rule applies", "check the condition", "skipping the check")


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def _records(bank: Bank, n: int, start: int = 0) -> list:
    import_records(bank, [record_line("Geometry", "Circles", f"Find the area of circle number {i}.", C)
                          for i in range(start, start + n)])
    return bank.records()


def test_counts_add_up_over_several_batches(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(vectors, "BATCH", 2)
    bank = Bank(tmp_path / "s")
    recs = _records(bank, 5)
    assert add_record_vectors(bank, embedder, recs[:3]) == 3  # two batches: 2 + 1
    assert backfill(bank, embedder) == 2
    assert coverage(bank, embedder) == (5, 5)


def test_own_appends_extend_the_cached_matrix_in_place(tmp_path, embedder):
    bank = Bank(tmp_path / "s")
    recs = _records(bank, 3)
    add_record_vectors(bank, embedder, recs[:1])
    index = vector_index(bank, embedder)
    add_record_vectors(bank, embedder, recs[1:])
    after = vector_index(bank, embedder)
    assert after is index  # the same object, extended: no reload of the table for our own write
    assert after.records == 3 and {"vr-" + r.id for r in recs} <= after.ids
    assert after.matrix.shape == (3, embedder.dim)
    # another process's append is not ours: the next read reloads and sees it
    other = Bank(bank.path)
    more = _records(other, 1, start=3)
    add_record_vectors(other, embedder, [r for r in more if "vr-" + r.id not in after.ids])
    fresh = vector_index(bank, embedder)
    assert fresh is not index and fresh.records == 4
