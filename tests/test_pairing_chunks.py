"""pair_tasks reads 500 tasks at a time: a task past the first 500 is paired once and counted once (real
LanceDB in a temp dir)."""

from __future__ import annotations

from conftest import traj
from memcollab.distill.pairing import pair_tasks
from memcollab.store.models import TrajectoryIn


def test_a_task_past_the_first_read_is_counted_once(bank):
    ts = [TrajectoryIn(**traj("Paired late: solve for x.", "good-model", "correct")).to_trajectory(),
          TrajectoryIn(**traj("Paired late: solve for x.", "bad-model", "incorrect", answer="7")).to_trajectory()]
    bank.add_trajectories(ts)
    ids = [f"t-nothing-{i}" for i in range(500)] + [ts[0].task_id]  # tasks without trajectories pair nothing
    assert pair_tasks(bank, ids) == 1
    assert bank.count("pairs") == 1
