"""Vector appends (real packaged model, real LanceDB in a temp dir): counts over several batches, and this
process's own appends extend the cached matrix in place instead of reloading the table."""

from __future__ import annotations

import pytest

from conftest import import_records, record_line
from memcollab.store import vectors
from memcollab.store.bank import Bank
from memcollab.store.embed import get_embedder
from memcollab.store.models import TrajectoryIn
from memcollab.store.vectors import _missing, add_record_vectors, backfill, coverage, nearest, vector_index

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


def test_record_vectors_carry_their_tag_and_nearest_filters_by_it(tmp_path, embedder):
    bank = Bank(tmp_path / "s")
    import_records(bank, [record_line("Geometry", "Circles", "Find the area of a circle.", C),
                          record_line("Algebra", "Linear Equations", "Find the area of a circle, as algebra.", C)])
    add_record_vectors(bank, embedder, bank.records())
    rows = {r["category"]: r for r in vector_index(bank, embedder).rows}
    assert rows["Geometry"]["subcategory"] == "Circles" and rows["Algebra"]["subcategory"] == "Linear Equations"
    query = embedder.encode(["the area of a circle"])[0]
    hits = nearest(bank, embedder, query, 5, kind="record", category="Algebra")
    assert [h["category"] for h, _ in hits] == ["Algebra"]
    assert [h["subcategory"] for h, _ in nearest(bank, embedder, query, 5, kind="record", category="Geometry",
                                                 subcategory="Circles")] == ["Circles"]
    assert len(nearest(bank, embedder, query, 5)) == 2


def test_nothing_is_missing_after_a_backfill_and_a_task_without_subcategory_has_an_empty_one(tmp_path, embedder):
    bank = Bank(tmp_path / "s")
    _records(bank, 2)
    t = TrajectoryIn(task="A task tagged with a category only", model="m", outcome="correct", final_answer="1",
                     category="Geometry").to_trajectory()
    bank.add_trajectories([t])
    tasks, recs = _missing(bank, embedder)
    assert [r["ref_id"] for r in tasks] == [t.task_id] and len(recs) == 2
    assert tasks[0]["subcategory"] == "" and tasks[0]["text"] == t.task
    assert backfill(bank, embedder) == 3
    assert _missing(bank, embedder) == ([], [])
    assert add_record_vectors(bank, embedder, []) == 0


def test_only_this_models_vectors_are_loaded(tmp_path, embedder):
    bank = Bank(tmp_path / "s")
    recs = _records(bank, 2)
    add_record_vectors(bank, embedder, recs[:1])
    # another model of the same dimension writes to the same table
    bank.table(vectors.table_name(embedder.dim)).add([{
        "id": "vr-" + recs[1].id, "kind": "record", "ref_id": recs[1].id, "category": "Geometry",
        "subcategory": "Circles", "model": "another-model", "vector": [0.0] * embedder.dim}])
    fresh = vector_index(Bank(bank.path), embedder)  # a fresh process reads the table
    assert fresh.ids == {"vr-" + recs[0].id} and fresh.records == 1
