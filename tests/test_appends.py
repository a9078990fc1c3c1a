"""How the store appends (real LanceDB in a temp dir): through a handle that never looks for newer versions
(Bank.appender), with rows converted against the table's schema (arrow_rows)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from memcollab.store.bank import Bank, _traj_row, arrow_rows
from memcollab.store.models import TrajectoryIn


def traj(i: int):
    return TrajectoryIn(task=f"append task {i}", model=f"m{i % 3}", final_answer=str(i), outcome="correct").to_trajectory()


def test_an_append_lands_on_top_of_what_other_handles_did_meanwhile(tmp_path):
    bank, other = Bank(tmp_path / "s"), Bank(tmp_path / "s")
    app = bank.appender("trajectories")
    first = int(app.add(arrow_rows("trajectories", [_traj_row(traj(0))])).version)
    for i in range(1, 21):  # another process appends, compacts and removes every old version
        other.appender("trajectories").add(arrow_rows("trajectories", [_traj_row(traj(i))]))
    other.table("trajectories").optimize(cleanup_older_than=timedelta(0))
    after = int(app.add(arrow_rows("trajectories", [_traj_row(traj(21))])).version)
    assert after > first + 21  # committed on top of the other handle's commits, not beside them
    assert sorted(t.final_answer for t in Bank(tmp_path / "s").trajectories()) == sorted(str(i) for i in range(22))


def test_a_row_that_does_not_match_the_schema_is_refused_not_nulled(tmp_path):
    row = _traj_row(traj(1))
    assert arrow_rows("trajectories", [row]).to_pylist()[0]["task"] == "append task 1"
    for bad in ({k: v for k, v in row.items() if k != "model"}, {**row, "modle": "x"}):
        with pytest.raises(ValueError, match="does not match its schema"):
            arrow_rows("trajectories", [bad])
