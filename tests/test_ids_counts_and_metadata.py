"""Store contracts mutation testing found unguarded (store/models.py, store/bank.py): a trajectory's id names
its model, empty containers in metadata are fine, a filtered count counts the filter's rows only, and a repeated
insert of more than one presence check's worth of keys (1000) adds nothing. Real LanceDB in a temp dir."""

from __future__ import annotations

from conftest import traj
from memcollab.store.models import Feedback, TrajectoryIn, _depth


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
