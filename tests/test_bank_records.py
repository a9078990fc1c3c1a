"""Bank record updates against a real LanceDB store in a temp dir: support from new contrasts."""

from __future__ import annotations

import pytest

from conftest import import_records, record_line
from memcollab.store.bank import Bank


def _one_record(bank: Bank) -> str:
    import_records(bank, [record_line("math", "algebra", "Solve 2x + 3 = 7",
                                      ("solving a linear equation", "isolate x step by step", "guessing"))])
    (rec,) = bank.records()
    return rec.id


def test_add_support_with_no_outcome_sources_on_either_side(bank):
    record_id = _one_record(bank)
    assert bank.get_records([record_id])[record_id].outcome_sources == []
    bank.add_support(record_id, "p-new", "model-a", "model-b")
    rec = bank.get_records([record_id])[record_id]
    assert rec.support == 2 and rec.pair_ids[-1] == "p-new" and rec.outcome_sources == []
    assert "model-a" in rec.preferred_models and "model-b" in rec.unpreferred_models


def _three_records(bank: Bank) -> list[str]:
    import_records(bank, [
        record_line("math", "algebra", "Solve 2x + 3 = 7", ("a linear equation", "isolate the unknown", "guessing")),
        record_line("math", "geometry", "Area of a circle", ("a circle area", "square the radius times pi", "diameter")),
        record_line("code", "python", "Reverse a list", ("reversing a list", "use slicing with step minus one", "loops")),
    ])
    return [r.id for r in bank.records()]


def test_search_records_ranks_by_bm25_inside_the_filter(bank):
    _three_records(bank)
    hits = bank.search_records("circle radius", None, 5)
    assert hits and hits[0][0].task == "Area of a circle" and hits[0][1] > 0
    assert all(score >= later for (_, score), (_, later) in zip(hits, hits[1:]))
    assert bank.search_records("circle radius", "category = 'code'", 5) == []
    only = bank.search_records("list slicing", "category = 'code'", 5)
    assert [r.task for r, _ in only] == ["Reverse a list"]
    assert len(bank.search_records("the a of", None, 1)) <= 1


def test_records_at_reads_rows_by_row_id_in_that_order(bank):
    _three_records(bank)
    scan = bank.table("records").search().with_row_id(True).select(["id"]).limit(None).to_arrow()
    ids, rows = scan.column("id").to_pylist(), scan.column("_rowid").to_pylist()
    assert bank.records_at([]) == []
    assert [r.id for r in bank.records_at(rows[::-1])] == ids[::-1]
    assert [r.id for r in bank.records_at(rows[1:2])] == ids[1:2]


def test_label_outcome_labels_an_unknown_trajectory_once_with_its_source(bank):
    from memcollab.store.models import TrajectoryIn

    t = TrajectoryIn(task="How many legs has a spider?", model="m1", outcome="unknown", final_answer="8").to_trajectory()
    other = TrajectoryIn(task="How many legs has a spider?", model="m2", outcome="unknown", final_answer="6").to_trajectory()
    bank.add_trajectories([t, other])
    with pytest.raises(ValueError) as e:
        bank.label_outcome(t.id, "unknown", "judge:x")
    assert str(e.value) == "outcome must be correct or incorrect, not 'unknown'"
    assert bank.label_outcome("no-such-id", "correct", "judge:x") is False
    assert bank.label_outcome(t.id, "correct", "judge:x") is True
    got = bank.get_trajectories([t.id, other.id])
    assert (got[t.id].outcome, got[t.id].outcome_source) == ("correct", "judge:x")
    assert (got[other.id].outcome, got[other.id].outcome_source) == ("unknown", "caller")  # only the one named
    assert got[t.id].id == t.id and got[t.id].final_answer == "8" and got[t.id].metadata == t.metadata
    assert bank.label_outcome(t.id, "incorrect", "judge:y") is False  # labelled already: stays
    assert bank.get_trajectories([t.id])[t.id].outcome == "correct"
    assert bank.label_outcome(other.id, "incorrect", "judge:y") is True
    assert bank.get_trajectories([other.id])[other.id].outcome == "incorrect"


def test_trajectories_for_task_returns_that_task_only(bank):
    from memcollab.store.models import TrajectoryIn

    a = TrajectoryIn(task="task a", model="m", outcome="correct", final_answer="1").to_trajectory()
    b = TrajectoryIn(task="task b", model="m", outcome="correct", final_answer="1").to_trajectory()
    bank.add_trajectories([a, b])
    assert [t.id for t in bank.trajectories_for_task(a.task_id)] == [a.id]
    assert bank.trajectories_for_task("nope") == []


@pytest.mark.parametrize("message", ["Commit conflict for version 7", "Retryable commit error",
                                     "concurrent transaction", "Version 4 WAS ALREADY COMMITTED",
                                     "too many concurrent writers"])
def test_each_conflict_phrase_alone_counts_as_a_conflict(message):
    from memcollab.store.bank import _is_conflict

    assert _is_conflict(RuntimeError(message))
    assert not _is_conflict(ValueError("No field named x"))
