"""Maintenance details (real LanceDB in a temp dir): old versions go, recent ones stay, key indexes on every
table that has rows, and the CLI's progress lines name the job."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from conftest import import_records, record_line
from memcollab.store import progress as progress_module
from memcollab.store.bank import Bank
from memcollab.store.maintain import maintain
from memcollab.store.models import TrajectoryIn


def _versions(bank: Bank, name: str) -> int:
    return len(bank.table(name).list_versions())


def _writes(bank: Bank, n: int) -> None:
    for i in range(n):
        bank.add_trajectory(TrajectoryIn(task=f"task {i}", model="m", outcome="correct", final_answer="1").to_trajectory())


@pytest.mark.filterwarnings("ignore:optimize.cleanup_older_than=0")  # no other process uses this store
def test_versions_older_than_the_window_are_removed_and_newer_ones_kept(tmp_path):
    bank = Bank(tmp_path / "s")
    _writes(bank, 6)
    many = _versions(bank, "trajectories")
    assert many >= 6
    maintain(bank)  # the default window (minutes): every version is recent, all are kept
    assert _versions(bank, "trajectories") >= many
    maintain(bank, keep_versions_for=timedelta(microseconds=1))
    assert _versions(bank, "trajectories") <= 2
    assert bank.count("trajectories") == 6


def test_key_indexes_on_every_table_with_rows_even_when_an_earlier_one_is_empty(tmp_path):
    # records only: the trajectories and pairs tables (first in KEY_INDEXES) are empty and skipped
    bank = Bank(tmp_path / "s")
    import_records(bank, [record_line("Algebra", "Linear Equations", "solve 2x = 4",
                                      ("an equation", "check by substitution", "skipping the check"))])
    maintain(bank)
    indexed = {tuple(i.columns) for i in bank.table("records").list_indices()}
    assert ("id",) in indexed
    assert not bank.table("trajectories").list_indices()


def test_progress_lines_name_the_job(tmp_path, monkeypatch):
    bank = Bank(tmp_path / "s")
    _writes(bank, 1)
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr(progress_module, "LINE_EVERY", 0.0)
    maintain(bank, show_progress=True)
    lines = err.getvalue().splitlines()
    assert lines and all(line.startswith("maintain: ") for line in lines), lines
    assert lines[-1].startswith(f"maintain: {len(bank.connect().list_tables().tables)}/")
