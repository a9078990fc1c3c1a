"""The bank (store/bank.py), against real LanceDB in temp dirs.

The bank's write discipline: commit conflicts are retried (forced here: compaction racing updates),
other errors are not.

How the store appends (real LanceDB in a temp dir): through a handle that never looks for newer versions
(Bank.appender), with rows converted against the table's schema (arrow_rows).

Bank record updates against a real LanceDB store in a temp dir: support from new contrasts."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest

from conftest import import_records, record_line, traj
from memcollab.distill.pairing import pair_task
from memcollab.store import bank as bank_module
from memcollab.store.bank import Bank, _traj_row, arrow_rows, retry
from memcollab.store.maintain import maintain
from memcollab.store.models import Feedback, TrajectoryIn


def test_retry_retries_conflicts_and_nothing_else(monkeypatch):
    monkeypatch.setattr(bank_module.time, "sleep", lambda _s: None)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("Commit conflict for version 7: retryable")
        return "done"

    assert retry(flaky, "test") == "done" and len(calls) == 3
    with pytest.raises(ValueError):
        retry(lambda: (_ for _ in ()).throw(ValueError("bad filter")), "test")
    always = []
    with pytest.raises(RuntimeError, match="conflict"):
        retry(lambda: always.append(1) or (_ for _ in ()).throw(RuntimeError("conflict")), "test", attempts=4)
    assert len(always) == 4


def test_compaction_racing_updates_conflicts_and_is_retried(tmp_path, caplog):
    """Commit conflicts forced for real: writers with their own connections keep updating pairs while
    maintenance compacts the same table. LanceDB rebases update-on-update by itself, but a compaction whose
    fragments an update rewrote meanwhile fails with "Retryable commit conflict": bank.retry must retry it,
    so maintenance completes and every writer's update lands."""
    store = tmp_path / "s"
    seed = Bank(store)
    for i in range(12):  # one fragment per write: work for the compaction
        a = TrajectoryIn(task=f"Q{i}", model="m1", outcome="correct", final_answer="1").to_trajectory()
        b = TrajectoryIn(task=f"Q{i}", model="m2", outcome="incorrect", final_answer="2").to_trajectory()
        seed.add_trajectories([a, b])
        pair_task(seed, a.task_id)
    pids = [p.id for p in seed.pairs()]
    caplog.set_level(logging.DEBUG, logger="memcollab.store")
    for rnd in range(8):  # until a conflict has been forced and retried (usually the first rounds)
        stop = threading.Event()
        errors: list[BaseException] = []
        written: dict[str, int] = {}

        def conflicted() -> bool:
            return any("after conflict" in r.getMessage() for r in caplog.records)

        def update(n: int, stop: threading.Event = stop, errors: list = errors, written: dict = written) -> None:
            bk, k = Bank(store), 0
            while not stop.is_set() and not conflicted():  # once a conflict is retried, let compaction win
                k += 1
                try:
                    bk.set_pair(pids[n], status="failed", attempts=k, last_error=f"writer {n}")
                except BaseException as err:  # noqa: BLE001 - reported below
                    errors.append(err)
                    return
                written[pids[n]] = k

        threads = [threading.Thread(target=update, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        try:
            report = maintain(Bank(store))
        finally:
            stop.set()
            for t in threads:
                t.join(120)
        assert report is not None and not errors, errors
        after = {p.id: p.attempts for p in Bank(store).pairs()}
        assert len(after) == len(pids) and all(after[pid] == k for pid, k in written.items())
        if conflicted():
            break
    else:
        pytest.fail("no commit conflict in 8 rounds of compaction racing updates")


def _traj(i: int):
    return TrajectoryIn(task=f"append task {i}", model=f"m{i % 3}", final_answer=str(i), outcome="correct").to_trajectory()


def test_an_append_lands_on_top_of_what_other_handles_did_meanwhile(tmp_path):
    bank, other = Bank(tmp_path / "s"), Bank(tmp_path / "s")
    app = bank.appender("trajectories")
    first = int(app.add(arrow_rows("trajectories", [_traj_row(_traj(0))])).version)
    for i in range(1, 21):  # another process appends, compacts and removes every old version
        other.appender("trajectories").add(arrow_rows("trajectories", [_traj_row(_traj(i))]))
    other.table("trajectories").optimize(cleanup_older_than=timedelta(0))
    after = int(app.add(arrow_rows("trajectories", [_traj_row(_traj(21))])).version)
    assert after > first + 21  # committed on top of the other handle's commits, not beside them
    assert sorted(t.final_answer for t in Bank(tmp_path / "s").trajectories()) == sorted(str(i) for i in range(22))


def test_a_row_that_does_not_match_the_schema_is_refused_not_nulled(tmp_path):
    row = _traj_row(_traj(1))
    assert arrow_rows("trajectories", [row]).to_pylist()[0]["task"] == "append task 1"
    for bad in ({k: v for k, v in row.items() if k != "model"}, {**row, "modle": "x"}):
        with pytest.raises(ValueError, match="does not match its schema"):
            arrow_rows("trajectories", [bad])


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


def test_a_filtered_count_counts_only_the_matching_rows(bank):
    bank.add_trajectories([TrajectoryIn(**traj(f"Count task {i}.", "m", outcome)).to_trajectory()
                           for i, outcome in enumerate(["correct", "incorrect", "correct"])])
    assert bank.count("trajectories") == 3
    assert bank.count("trajectories", "outcome = 'correct'") == 2


def test_inserting_the_same_keys_again_adds_nothing_past_the_first_thousand(bank):
    items = [Feedback(id=f"f{i:04d}", record_id="r-x", helped=bool(i % 2)) for i in range(1001)]
    assert bank.add_feedback(items) == 1001
    assert bank.add_feedback(items) == 0
    assert bank.count("feedback") == 1001
