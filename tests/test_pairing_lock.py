"""Pairing holds the pairs insert lock across its read and its append (distill/pairing.py sync_pairs): the same
lock file every writer on this machine takes, so two processes pairing one task cannot both add its pairs. A
second FlockLock on that file stands in for the other process (flock conflicts between two open descriptions
even in one process). Real LanceDB in a temp dir."""

from __future__ import annotations

import threading

from conftest import traj
from memcollab.distill.pairing import pair_task
from memcollab.store.location import FlockLock
from memcollab.store.models import TrajectoryIn


def test_pairing_waits_for_the_pairs_insert_lock(bank):
    ts = [TrajectoryIn(**traj("Locked pairing: solve for x.", "good-model", "correct")).to_trajectory(),
          TrajectoryIn(**traj("Locked pairing: solve for x.", "bad-model", "incorrect", answer="7")).to_trajectory()]
    bank.add_trajectories(ts)
    done, result = threading.Event(), {}

    def pair() -> None:
        result["pending"] = pair_task(bank, ts[0].task_id)
        done.set()

    with FlockLock(bank.location.path / ".insert-pairs.lock"):  # held as another process would hold it
        threading.Thread(target=pair, daemon=True).start()
        # still waiting while the lock is held (unlocked, pairing this bank takes milliseconds); correct code
        # cannot fail this on a slow machine, it can only wait longer
        assert not done.wait(1.0)
    assert done.wait(120)
    assert result["pending"] == 1 and bank.count("pairs") == 1
