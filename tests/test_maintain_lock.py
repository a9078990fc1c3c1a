"""Maintenance commits a table's compaction while holding the insert lock that every local writer takes (real
LanceDB, the lock checked from another process): under a steady stream of appends, LanceDB's compaction
otherwise kept losing its commit to them, left every fragment in place, and held maintenance in that call for
minutes. The compacted files are written before the lock is taken: appends do not wait for that."""

from __future__ import annotations

import subprocess
import sys

import pytest
import lance.optimize
from lance.dataset import LanceDataset

from memcollab.store.bank import Bank
from memcollab.store.maintain import maintain
from memcollab.store.models import TrajectoryIn
from memcollab.server.tools.submit_trajectory import submit

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock(2) is POSIX")

TRY = "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)"


def test_each_tables_compaction_commits_with_its_insert_lock_held_and_writes_without_it(tmp_path, monkeypatch):
    store = tmp_path / "s"
    bank = Bank(store)
    for i in range(6):
        submit(bank, TrajectoryIn(task=f"task {i // 2}", model=f"m{i % 2}", final_answer=str(i),
                                  outcome="correct" if i % 2 else "incorrect"))
    locked: dict[tuple[str, str], bool] = {}

    def held(ds, step: str) -> None:  # asks another process for the table's insert lock
        name = ds.uri.rstrip("/").rsplit("/", 1)[-1].removesuffix(".lance")
        probe = subprocess.run([sys.executable, "-c", TRY, str(store / f".insert-{name}.lock")])
        locked[(name, step)] = probe.returncode != 0

    real = lance.optimize.Compaction

    class Watched:  # the real compaction, its steps watched
        @staticmethod
        def plan(ds, options):
            plan = real.plan(ds, options)
            held(ds, "write")  # the rewritten files are written right after planning
            return plan

        @staticmethod
        def commit(ds, rewrites):
            held(ds, "commit")
            return real.commit(ds, rewrites)

    monkeypatch.setattr(lance.optimize, "Compaction", Watched)
    real_cleanup = LanceDataset.cleanup_old_versions

    def cleanup(self, *args, **kwargs):
        held(self, "cleanup")
        return real_cleanup(self, *args, **kwargs)

    monkeypatch.setattr(LanceDataset, "cleanup_old_versions", cleanup)
    report = maintain(bank)
    step = lambda s: {name: h for (name, st), h in locked.items() if st == s}  # noqa: E731
    assert {"trajectories", "pairs"} <= step("commit").keys() and all(step("commit").values()), locked
    assert step("commit").keys() <= step("write").keys() and not any(step("write").values()), locked
    assert report["trajectories"]["fragments_after"] == 1
    # the cleanup (it reads every version kept) runs after the lock is released: appends do not wait for it
    assert step("cleanup").keys() >= step("commit").keys() and not any(step("cleanup").values()), locked
