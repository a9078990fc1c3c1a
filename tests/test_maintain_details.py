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


def test_compaction_leaves_full_fragments_alone(tmp_path, monkeypatch):
    """A run's work is the rows written since the last one: fragments of COMPACT_ROWS rows or more are never
    rewritten (LanceDB's own optimize() rewrote every fragment under a million rows, the whole table each run)."""
    import lance

    from memcollab.store import maintain as maintenance

    monkeypatch.setattr(maintenance, "COMPACT_ROWS", 50)
    bank = Bank(tmp_path / "s")
    bank.add_trajectories([TrajectoryIn(task=f"bulk {i}", model="m", outcome="correct", final_answer="1")
                           .to_trajectory() for i in range(60)])
    _writes(bank, 5)
    uri = bank.table("trajectories").uri

    def files(fragment) -> list[str]:
        return [f.path for f in fragment.data_files()]

    (full,) = [f for f in lance.dataset(uri).get_fragments() if f.count_rows() >= 50]
    maintain(bank)
    after = lance.dataset(uri).get_fragments()
    assert len(after) == 2  # the full fragment as it was, and the five single rows merged into one
    assert (after[0].fragment_id, files(after[0])) == (full.fragment_id, files(full))
    assert bank.count("trajectories") == 65


def test_new_rows_are_folded_into_every_index(tmp_path):
    bank = Bank(tmp_path / "s")
    line = lambda i: record_line("Algebra", "Linear Equations", f"solve {i}x = 4",  # noqa: E731
                                 ("an equation", "check by substitution", "skipping the check"))
    import_records(bank, [line(i) for i in range(3)])
    maintain(bank)
    import_records(bank, [line(9)])
    records = bank.table("records")
    names = [i.name for i in records.list_indices()]
    assert {records.index_stats(n).index_type for n in names} >= {"FTS", "BTREE", "BITMAP"}
    assert all(records.index_stats(n).num_unindexed_rows == 1 for n in names)
    maintain(bank)
    assert all((records.index_stats(n).num_indexed_rows, records.index_stats(n).num_unindexed_rows) == (4, 0)
               for n in names)


def test_the_report_gives_seconds_to_the_millisecond(tmp_path):
    bank = Bank(tmp_path / "s")
    _writes(bank, 1)
    seconds = maintain(bank)["seconds"]
    assert isinstance(seconds, float) and seconds == round(seconds, 3)
