"""Import skips what hangs on a skipped object: a trajectory skipped for its forgotten agent takes the pair
that contrasts it (on either side) and the record distilled from that pair with it (real LanceDB in temp dirs)."""

from __future__ import annotations

import io

import pytest

from memcollab.distill.pairing import pair_task
from memcollab.distill.store_constraints import store_distilled
from memcollab.distill.validate import DistillOutput
from memcollab.store.bank import Bank
from memcollab.store.forget import forget
from memcollab.store.models import TrajectoryIn
from memcollab.store.transfer import export_jsonl, import_jsonl

C = {"when": "a linear equation is solved", "enforce": "verify by substitution", "avoid": "skipping the check"}


@pytest.mark.parametrize("gone, kept", [("a2", "a1"), ("a1", "a2")], ids=["unpreferred", "preferred"])
def test_a_pair_and_its_record_go_with_a_trajectory_skipped_for_its_agent(tmp_path, gone, kept):
    other = Bank(tmp_path / "other")
    task = "Only the other store saw this: solve 3x = 9."
    good = TrajectoryIn(task=task, model="good-model", agent="a1", outcome="correct", final_answer="3")
    bad = TrajectoryIn(task=task, model="fine-model", agent="a2", outcome="incorrect", final_answer="4")
    other.add_trajectories([good.to_trajectory(), bad.to_trajectory()])
    pair_task(other, good.to_trajectory().task_id)
    (pair,) = other.pairs()
    store_distilled(other, pair, DistillOutput(category="Algebra", subcategory="Linear Equations", constraints=[C]),
                    "d", "v")
    assert other.count("records") == 1
    out = io.StringIO()
    export_jsonl(other, out)

    bank = Bank(tmp_path / "s")
    forget(bank, agent=gone)  # no trajectory of that agent here: only the agent's tombstone names it
    report = import_jsonl(bank, out.getvalue().splitlines(), progress=lambda _m: None)
    assert report["errors"] == []
    # the pair and the record name neither the agent nor a forgotten model: only the skipped trajectory
    assert report["forgotten"] == {"trajectory": 1, "pair": 1, "record": 1, "feedback": 0}
    assert [t.agent for t in bank.trajectories()] == [kept]
    assert bank.count("pairs") == 0 and bank.count("records") == 0
