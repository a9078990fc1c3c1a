"""Reads and ranking (store/bank.py, store/cache.py, store/retrieve.py, store/vectors.py)."""

from __future__ import annotations

import pytest

from conftest import import_records, record_line, traj
from memcollab.distill.pairing import pair_task
from memcollab.store import cache as cache_module
from memcollab.store.bank import Bank
from memcollab.store.cache import caches
from memcollab.store.models import Feedback, TrajectoryIn
from memcollab.store.retrieve import _with_feedback


def _records(bank: Bank, n: int) -> None:
    import_records(bank, [record_line("math", "algebra", f"Solve the linear equation number {i}",
                                      ("a linear equation", f"isolate x in step {i}", "guessing"))
                          for i in range(n)])


def test_search_records_returns_at_most_the_limit(bank):
    _records(bank, 4)
    assert len(bank.search_records("linear equation", None, 4)) == 4
    assert len(bank.search_records("linear equation", None, 2)) == 2


def test_feedback_counts_of_some_records_count_only_those(bank):
    _records(bank, 2)
    a, b = (r.id for r in bank.records())
    bank.add_feedback([Feedback(id="f1", record_id=a, helped=True, model="m"),
                       Feedback(id="f2", record_id=b, helped=False, model="m"),
                       Feedback(id="f3", record_id=b, helped=False, model="m")])
    assert bank.feedback_counts([a]) == {a: {"helped": 1, "not_helped": 0}}
    assert bank.feedback_counts([b]) == {b: {"helped": 0, "not_helped": 2}}
    assert bank.feedback_counts(by="model") == {"m": {"helped": 1, "not_helped": 2}}


def test_a_record_without_feedback_keeps_its_score(bank):
    _records(bank, 2)
    a, b = bank.records()
    bank.add_feedback([Feedback(id="f1", record_id=b.id, helped=True)])
    scores = {r.id: s for r, s in _with_feedback(bank, [(a, 2.0), (b, 1.0)])}
    assert scores[a.id] == 2.0
    assert scores[b.id] > 1.0


def test_pairs_and_trajectories_of_every_load_chunk_are_read(tmp_path, monkeypatch):
    """Tasks read in several chunks (LOAD_CHUNK ids per `IN (...)` filter, 500: shrunk to 2 here, so five
    tasks take three chunks): every task's pairs and trajectories are read, each once."""
    monkeypatch.setattr(cache_module, "LOAD_CHUNK", 2)
    bank = Bank(tmp_path / "s")
    tasks, stored = [], {}
    for i in range(5):
        ts = [TrajectoryIn(**traj(f"Chunked read {i}: solve for x.", "good-model", "correct")).to_trajectory(),
              TrajectoryIn(**traj(f"Chunked read {i}: solve for x.", "bad-model", "incorrect", answer="7")).to_trajectory()]
        bank.add_trajectories(ts)
        pair_task(bank, ts[0].task_id)
        tasks.append(ts[0].task_id)
        stored[ts[0].task_id] = sorted(t.id for t in ts)
    fresh = caches(Bank(bank.path))  # empty caches: everything is read from the tables
    _, pairs = fresh.task_pairs(tasks)
    assert all(len(pairs[t]) == 1 for t in tasks), {t: len(p) for t, p in pairs.items()}
    _, briefs = fresh.task_trajectories(tasks)
    assert {t: sorted(b.id for b in bs) for t, bs in briefs.items()} == stored


@pytest.fixture(scope="module")
def embedder():
    from memcollab.store.embed import get_embedder

    return get_embedder()


def test_a_category_level_answer_carries_the_categorys_share_of_the_votes(bank, embedder):
    from memcollab.store.classify import classify
    from memcollab.store.vectors import backfill

    import_records(bank, [
        record_line("math", "algebra", "Solve 2x + 3 = 7", ("a linear equation", "isolate x", "guessing")),
        record_line("math", "geometry", "Find the area of a circle of radius 3",
                    ("a circle", "use pi r squared", "using the diameter")),
        record_line("physics", "mechanics", "A ball falls for 2 seconds; how far does it fall?",
                    ("free fall", "use g t squared over two", "forgetting the half"))])
    backfill(bank, embedder)
    # a threshold no subcategory can reach: the answer is the category with the most votes, and its share
    got = classify(bank, embedder, "Solve 5x - 4 = 11 for x", threshold=1.01)
    assert got.category == "math" and got.subcategory is None
    assert 0.0 < got.confidence < 1.0
    assert got.confidence == round(got.confidence, 4)


def test_a_record_without_subcategory_gets_an_empty_one_in_its_vector_row(bank, embedder):
    from memcollab.store.vectors import _missing

    import_records(bank, [record_line("Geometry", "", "Find the area of a circle of radius 2",
                                      ("a circle", "use pi r squared", "using the diameter"))])
    _, recs = _missing(bank, embedder)
    assert [(r["category"], r["subcategory"]) for r in recs] == [("Geometry", "")]
