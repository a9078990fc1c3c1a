"""Maintenance compacts a table while holding the insert lock that every local writer takes (real LanceDB,
the lock checked from another process): under a steady stream of appends, LanceDB's compaction otherwise
kept losing its commit to them, left every fragment in place, and held maintenance in that call for minutes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from lance.dataset import DatasetOptimizer, LanceDataset

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
    locked: dict[tuple[str, str], bool] = {}

    def watch(owner, step):
        real = getattr(owner, step)

        def watched(self, *args, **kwargs):  # the real step, after asking another process for the lock
            ds = self if isinstance(self, LanceDataset) else self._dataset
            name = ds.uri.rstrip("/").rsplit("/", 1)[-1].removesuffix(".lance")
            probe = subprocess.run([sys.executable, "-c", TRY, str(store / f".insert-{name}.lock")])
            locked[(name, step)] = probe.returncode != 0
            return real(self, *args, **kwargs)

        monkeypatch.setattr(owner, step, watched)

    watch(DatasetOptimizer, "compact_files")
    watch(LanceDataset, "cleanup_old_versions")
    report = maintain(bank)
    compacted = {name: held for (name, step), held in locked.items() if step == "compact_files"}
    assert compacted["trajectories"] and compacted["pairs"] and all(compacted.values()), locked
    assert report["trajectories"]["fragments_after"] == 1
    # the cleanup (it reads every version kept) runs after the lock is released: appends do not wait for it
    cleaned = {name: held for (name, step), held in locked.items() if step == "cleanup_old_versions"}
    assert cleaned.keys() == compacted.keys() and not any(cleaned.values()), locked
