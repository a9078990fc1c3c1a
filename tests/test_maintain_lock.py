"""Maintenance compacts a table while holding the insert lock that every local writer takes (real LanceDB,
the lock checked from another process): under a steady stream of appends, LanceDB's compaction otherwise
kept losing its commit to them, left every fragment in place, and held maintenance in that call for minutes."""

from __future__ import annotations

import subprocess
import sys

import lancedb.table
import pytest

from memcollab.store.bank import Bank
from memcollab.store.maintain import maintain
from memcollab.store.models import TrajectoryIn
from memcollab.server.tools.submit_trajectory import submit

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock(2) is POSIX")

TRY = "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)"


def test_each_table_is_compacted_with_its_insert_lock_held(tmp_path, monkeypatch):
    store = tmp_path / "s"
    bank = Bank(store)
    for i in range(6):
        submit(bank, TrajectoryIn(task=f"task {i // 2}", model=f"m{i % 2}", final_answer=str(i),
                                  outcome="correct" if i % 2 else "incorrect"))
    locked: dict[str, bool] = {}
    real = lancedb.table.LanceTable.optimize

    def watched(self, *args, **kwargs):  # the real optimize, after asking another process for the lock
        probe = subprocess.run([sys.executable, "-c", TRY, str(store / f".insert-{self.name}.lock")])
        locked[self.name] = probe.returncode != 0
        return real(self, *args, **kwargs)

    monkeypatch.setattr(lancedb.table.LanceTable, "optimize", watched)
    report = maintain(bank)
    assert locked["trajectories"] and locked["pairs"] and all(locked.values()), locked
    assert report["trajectories"]["fragments_after"] == 1
