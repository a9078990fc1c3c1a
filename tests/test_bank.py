"""The bank's write discipline: commit conflicts are retried (forced here: compaction racing updates),
other errors are not."""

from __future__ import annotations

import logging
import threading

import pytest

from memcollab.distill.pairing import pair_task
from memcollab.store import bank as bank_module
from memcollab.store.bank import Bank, retry
from memcollab.store.maintain import maintain
from memcollab.store.models import TrajectoryIn


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
