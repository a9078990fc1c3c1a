"""Automatic maintenance optimizes only the tables written since this process last optimized them (real
LanceDB in a temp dir): each optimize reads every version kept, so doing all tables every 100 writes cost
more than the writes."""

from __future__ import annotations

from memcollab.server.tools.submit_trajectory import submit
from memcollab.store.bank import Bank
from memcollab.store.maintain import maintain
from memcollab.store.models import TrajectoryIn


def test_only_the_tables_written_since_the_last_run_are_optimized(tmp_path):
    bank = Bank(tmp_path / "s")
    submit(bank, TrajectoryIn(task="t", model="a", final_answer="1", outcome="incorrect"))
    first = maintain(bank, only_changed=True)
    assert {"trajectories", "pairs", "records"} <= set(first)  # a process's first run does every table
    assert {k for k in maintain(bank, only_changed=True) if k != "seconds"} == set()
    submit(bank, TrajectoryIn(task="t", model="b", final_answer="2", outcome="correct"))  # and a pair forms
    assert {k for k in maintain(bank, only_changed=True) if k != "seconds"} == {"trajectories", "pairs"}
    other = Bank(tmp_path / "s")  # another process's write counts too
    submit(other, TrajectoryIn(task="u", model="c", final_answer="3", outcome="correct"))
    assert {k for k in maintain(bank, only_changed=True) if k != "seconds"} == {"trajectories"}
    assert {k for k in maintain(bank) if k != "seconds"} >= {"trajectories", "pairs", "records"}  # the CLI: all


def test_the_servers_automatic_runs_skip_unchanged_tables(tmp_path):
    import time

    from memcollab.store.maintain import AutoMaintainer

    bank = Bank(tmp_path / "s")
    submit(bank, TrajectoryIn(task="t", model="a", final_answer="1", outcome="incorrect"))
    auto = AutoMaintainer(bank, every=1)
    for want in (1, 2):
        auto.wrote()
        deadline = time.monotonic() + 120
        while auto.runs < want and time.monotonic() < deadline:
            time.sleep(0.05)
        assert auto.runs == want
    assert auto.last_report is not None
    assert {k for k in auto.last_report if k != "seconds"} == set()  # nothing written between the two runs


def test_the_servers_automatic_runs_keep_old_versions_only_briefly(tmp_path, monkeypatch):
    """Each optimize reads every version kept: the automatic runs keep AUTO_KEEP_VERSIONS_FOR (seconds), not the
    CLI's ten minutes, so under steady writes a run does not grow with the writes of the last ten minutes."""
    import time
    from datetime import timedelta

    import memcollab.store.maintain as maintenance

    bank = Bank(tmp_path / "s")
    for i in range(5):
        submit(bank, TrajectoryIn(task=f"t{i}", model="a", final_answer="1", outcome="incorrect"))
    versions = lambda: len(bank.table("trajectories").list_versions())  # noqa: E731
    maintain(bank)  # by hand: every version of the last ten minutes stays
    assert versions() >= 6
    monkeypatch.setattr(maintenance, "AUTO_KEEP_VERSIONS_FOR", timedelta(milliseconds=1))
    time.sleep(0.01)
    submit(bank, TrajectoryIn(task="t5", model="a", final_answer="1", outcome="incorrect"))
    auto = maintenance.AutoMaintainer(bank, every=1)
    auto.wrote()
    deadline = time.monotonic() + 120
    while auto.runs < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert auto.runs == 1
    assert versions() <= 2  # the compaction's version, and at most the append it compacted
    assert bank.count("trajectories") == 6


def test_the_automatic_runs_remove_old_versions_at_most_once_per_retention(tmp_path, monkeypatch):
    """The cleanup reads every version kept: in every automatic run (every 100 writes) it cost more than the
    compaction, so it runs when the last one is at least AUTO_KEEP_VERSIONS_FOR ago (and in a first run)."""
    import time
    from datetime import timedelta

    from lance.dataset import LanceDataset

    import memcollab.store.maintain as maintenance

    cleanups: list[str] = []
    real = LanceDataset.cleanup_old_versions

    def counted(self, *args, **kwargs):
        cleanups.append(self.uri)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LanceDataset, "cleanup_old_versions", counted)
    monkeypatch.setattr(maintenance, "AUTO_KEEP_VERSIONS_FOR", timedelta(minutes=1))
    bank = Bank(tmp_path / "s")
    auto = maintenance.AutoMaintainer(bank, every=1)

    def one_run(i: int) -> int:
        submit(bank, TrajectoryIn(task=f"t{i}", model="a", final_answer="1", outcome="incorrect"))
        cleanups.clear()
        auto.wrote()
        deadline = time.monotonic() + 120
        while auto.runs < i and time.monotonic() < deadline:
            time.sleep(0.05)
        assert auto.runs == i
        return len(cleanups)

    assert one_run(1) > 0  # the first run cleans
    assert one_run(2) == 0  # a minute has not passed
    auto._cleaned -= 61
    assert one_run(3) > 0
