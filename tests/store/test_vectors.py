"""The vector table and its in-memory index (store/vectors.py), with the real packaged model where vectors are made.

Vector appends (real packaged model, real LanceDB in a temp dir): counts over several batches, and this
process's own appends extend the cached matrix in place instead of reloading the table.

The vector table's backfill and the classifier's threshold, with the real packaged embedding model over
real LanceDB in a temp dir."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import import_records, record_line
from memcollab.store import vectors
from memcollab.store.bank import Bank
from memcollab.store.classify import classify
from memcollab.store.embed import get_embedder
from memcollab.store.models import TrajectoryIn
from memcollab.store.taxonomy import load_taxonomy
from memcollab.store.vectors import VectorIndex, _missing, add_record_vectors, backfill, coverage, nearest, vector_index


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


def _fill(bank) -> None:
    import_records(bank, [
        record_line("math", "algebra", "Solve 2x + 3 = 7", ("a linear equation", "isolate x", "guessing")),
        record_line("math", "algebra", "Solve 5x = 20", ("a linear equation", "divide both sides", "guessing"))])
    bank.add_trajectories([
        TrajectoryIn(task="Solve 3x - 1 = 8", model="m", outcome="correct", final_answer="3", category="math",
                     subcategory="algebra").to_trajectory(),
        TrajectoryIn(task="Solve 4x = 12", model="m", outcome="correct", final_answer="3", category="math",
                     subcategory="algebra").to_trajectory(),
        TrajectoryIn(task="An untagged task", model="m", outcome="correct", final_answer="1").to_trajectory()])


def test_backfill_embeds_records_and_tagged_tasks_once(bank, embedder):
    _fill(bank)
    assert backfill(bank, embedder) == 4  # two records, two tagged tasks; the untagged one has no tag to vote
    index = vector_index(bank, embedder)
    assert sorted(r["kind"] for r in index.rows) == ["record", "record", "task", "task"]
    tasks = {r["ref_id"]: (r["category"], r["subcategory"]) for r in index.rows if r["kind"] == "task"}
    assert set(tasks.values()) == {("math", "algebra")}
    assert all(r["id"] == "vt-" + r["ref_id"] for r in index.rows if r["kind"] == "task")
    assert coverage(bank, embedder) == (2, 2)
    assert backfill(bank, embedder) == 0  # nothing is embedded twice


def test_a_confidence_equal_to_the_threshold_is_enough(bank, embedder):
    _fill(bank)
    backfill(bank, embedder)
    got = classify(bank, embedder, "Solve 7x = 14", threshold=1.0)  # every vote is math/algebra: confidence 1.0
    assert (got.category, got.subcategory, got.confidence) == ("math", "algebra", 1.0)


def test_another_process_loads_the_same_vectors_from_the_table(bank, embedder):
    _fill(bank)
    backfill(bank, embedder)
    mine = vector_index(bank, embedder)
    fresh = vector_index(Bank(bank.path), embedder)  # empty caches: read back from the vector table
    assert sorted(r["id"] for r in fresh.rows) == sorted(r["id"] for r in mine.rows) and len(fresh.rows) == 4
    assert fresh.records == 2 and fresh.ids == mine.ids
    by_id = {r["id"]: r for r in fresh.rows}
    assert all(by_id[r["id"]] == r for r in mine.rows)  # kind, ref_id and tags too
    assert np.allclose(fresh.matrix[[fresh.rows.index(by_id[r["id"]]) for r in mine.rows]], mine.matrix)


def test_each_taxonomy_gets_its_own_vectors(tmp_path, bank, embedder):
    import json

    from memcollab.store.taxonomy import load_taxonomy

    def one(name: str, sub: str, what: str):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"domain": "only", "categories": [
            {"name": name, "subcategories": [{"name": sub, "description": what}]}]}))
        tax = load_taxonomy(path)
        tax.domains = [d for d in tax.domains if d.domain == "only"]
        return tax

    cooking = one("Cooking", "Bread", "baking bread with yeast and flour")
    music = one("Music", "Guitar", "playing chords on a guitar")
    assert classify(bank, embedder, "How long should bread dough rise?", taxonomy=cooking).category == "Cooking"
    assert classify(bank, embedder, "How do I tune a guitar?", taxonomy=music).category == "Music"


def test_vector_index_searches_inside_a_group_and_finds_nothing_in_an_empty_one():
    index = VectorIndex(2)
    rows = [{"id": "v1", "kind": "record", "ref_id": "r1", "category": "math", "subcategory": "algebra"},
            {"id": "v2", "kind": "record", "ref_id": "r2", "category": "code", "subcategory": None},
            {"id": "v3", "kind": "trajectory", "ref_id": "t1", "category": "math", "subcategory": "algebra"}]
    index.extend(rows, np.array([[1, 0], [0, 1], [0.6, 0.8]]))
    assert index.records == 2 and index.ids == {"v1", "v2", "v3"}
    q = np.array([1.0, 0.0], dtype=np.float32)
    assert [(r["id"], round(s, 2)) for r, s in index.search(q, 5)] == [("v1", 1.0), ("v3", 0.6), ("v2", 0.0)]
    assert [r["id"] for r, _ in index.search(q, 5, kind="record")] == ["v1", "v2"]
    assert [r["id"] for r, _ in index.search(q, 5, kind="record", category="code")] == ["v2"]
    assert index.search(q, 5, kind="record", category="history") == []  # no such group
    assert index.search(q, 5, kind="record", category="math", subcategory="geometry") == []
    assert [r["subcategory"] for r, _ in index.search(q, 1, kind="record", category="code")] == [""]
