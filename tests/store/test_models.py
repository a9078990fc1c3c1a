"""The stored models (store/models.py): ids, labels, metadata, limits.

Ids, labels and limits: a caller's task id is part of a trajectory's id, a verifier's label is recorded
as such, list limits hold, and a retrieval with no match still echoes its tag (real LanceDB in a temp dir)."""

from __future__ import annotations

from conftest import traj
from memcollab.store.models import TrajectoryIn, _depth
from memcollab.store.retrieve import retrieve


def test_two_models_with_the_same_steps_and_answer_are_two_trajectories(bank):
    a = TrajectoryIn(**traj("Same words: solve for x.", "model-a", "correct")).to_trajectory()
    b = TrajectoryIn(**traj("Same words: solve for x.", "model-b", "correct",
                            steps=["model-a reasons about it", "so the answer is 42"])).to_trajectory()
    assert a.steps == b.steps and a.id != b.id
    assert bank.add_trajectories([a, b]) == 2


def test_empty_lists_and_mappings_in_metadata_are_accepted_and_count_as_a_level():
    assert (_depth([]), _depth({}), _depth({"a": []}), _depth({"a": [{}]})) == (1, 1, 2, 3)
    t = TrajectoryIn(**traj("Metadata with empty containers.", "m", "correct"), metadata={"tags": [], "extra": {}})
    assert t.to_trajectory().metadata == {"tags": [], "extra": {}}


def test_the_same_text_under_two_task_ids_is_two_trajectories(bank):
    a = TrajectoryIn(**traj("Solve 2x = 4", "m", "correct"), task_id="set-a/7").to_trajectory()
    b = TrajectoryIn(**traj("Solve 2x = 4", "m", "correct"), task_id="set-b/7").to_trajectory()
    assert a.id != b.id
    bank.add_trajectories([a, b])
    assert bank.count("trajectories") == 2


def test_only_a_decided_outcome_from_a_verifier_counts_as_verified():
    meta = {"label_source": "verifier"}
    assert TrajectoryIn(**traj("t", "m", "correct"), metadata=meta).to_trajectory().outcome_source == "verifier"
    assert TrajectoryIn(**traj("t", "m", "unknown"), metadata=meta).to_trajectory().outcome_source == "caller"
    assert TrajectoryIn(**traj("t", "m", "correct")).to_trajectory().outcome_source == "caller"


def test_list_limits_hold(bank):
    for i in range(3):
        bank.add_trajectories([TrajectoryIn(**traj(f"task {i}", "good", "correct")).to_trajectory(),
                               TrajectoryIn(**traj(f"task {i}", "bad", "incorrect", answer="7")).to_trajectory()])
    from memcollab.distill.pairing import pair_tasks

    pair_tasks(bank, [t.task_id for t in bank.trajectories()])
    assert len(bank.trajectories()) == 6 and len(bank.trajectories(limit=2)) == 2
    assert len(bank.pairs()) == 3 and len(bank.pairs(limit=1)) == 1


def test_no_match_still_echoes_the_tag(bank):
    r = retrieve(bank, "anything at all", "Geometry", "Circles")
    assert (r.match, r.category, r.subcategory, r.records, r.guidance) == ("none", "Geometry", "Circles", [], "")
