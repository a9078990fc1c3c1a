"""Maintenance (store/maintain.py): compaction, index refresh, automatic runs, the lock.

Maintenance: compaction and index refresh keep results, one process at a time, automatic runs.

Automatic maintenance optimizes only the tables written since this process last optimized them (real
LanceDB in a temp dir): each optimize reads every version kept, so doing all tables every 100 writes cost
more than the writes.

Maintenance details (real LanceDB in a temp dir): old versions go, recent ones stay, key indexes on every
table that has rows, and the CLI's progress lines name the job.

Maintenance commits a table's compaction while holding the insert lock that every local writer takes (real
LanceDB, the lock checked from another process): under a steady stream of appends, LanceDB's compaction
otherwise kept losing its commit to them, left every fragment in place, and held maintenance in that call for
minutes. The compacted files are written before the lock is taken: appends do not wait for that."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from datetime import timedelta

import anyio
import lance.optimize
import pytest
from filelock import FileLock
from lance.dataset import LanceDataset

from conftest import import_records, record_line
from memcollab.server.tools.submit_trajectory import submit
from memcollab.store import progress as progress_module
from memcollab.store.bank import Bank
from memcollab.store.maintain import AutoMaintainer, maintain
from memcollab.store.models import TrajectoryIn
from memcollab.store.retrieve import retrieve


def _many_small_writes(bank: Bank, n: int) -> None:
    for i in range(n):
        bank.add_trajectory(TrajectoryIn(task=f"task {i}", model="m", outcome="correct", final_answer="1").to_trajectory())
        if i % 10 == 0:
            import_records(bank, [record_line("Algebra", "Linear Equations", f"solve equation number {i} for x",
                                              ("an equation", "check by substitution", "skipping the check"))])


def test_compaction_keeps_every_row_and_the_results(tmp_path):
    bank = Bank(tmp_path / "s")
    _many_small_writes(bank, 60)
    before = retrieve(bank, "solve equation number 30 for x", "Algebra", "Linear Equations")
    frags = bank.table("trajectories").stats()["fragment_stats"]["num_fragments"]
    report = maintain(bank)
    assert report["trajectories"]["fragments_before"] == frags >= 60
    assert report["trajectories"]["fragments_after"] == 1
    assert bank.count("trajectories") == 60 and bank.count("records") == 6
    after = retrieve(bank, "solve equation number 30 for x", "Algebra", "Linear Equations")
    # the best match is the same; ties among near-identical records may reorder once BM25 statistics come
    # from the rebuilt index instead of the flat scan
    assert after.records[0].record_id == before.records[0].record_id
    assert "number 30" in bank.records(f"id = '{after.records[0].record_id}'")[0].task
    # rows written after maintenance are still found (flat search over the unindexed tail)
    import_records(bank, [record_line("Algebra", "Linear Equations", "a brand new zebra equation",
                                      ("an equation", "check by substitution", "skipping the check"))])
    assert retrieve(bank, "zebra", "Algebra", "Linear Equations").records[0].score > 0


def test_only_one_process_maintains_at_a_time(tmp_path):
    bank = Bank(tmp_path / "s")
    _many_small_writes(bank, 3)
    with FileLock(str(bank.path / ".maintain.lock")):
        assert maintain(bank) is None  # held elsewhere: skipped
    assert maintain(bank) is not None


def test_automatic_maintenance_runs_in_the_background(tmp_path):
    bank = Bank(tmp_path / "s")
    _many_small_writes(bank, 30)
    auto = AutoMaintainer(bank, every=10)
    for _ in range(9):
        auto.wrote()
    assert auto.runs == 0
    auto.wrote()
    for t in threading.enumerate():
        if t.name == "memcollab-maintain":
            t.join(60)
    assert auto.runs == 1
    assert bank.table("trajectories").stats()["fragment_stats"]["num_fragments"] == 1


@pytest.mark.anyio
async def test_server_writes_trigger_automatic_maintenance(tmp_path, monkeypatch):
    """Every writing tool counts towards the next automatic run: five writes by four tools, every=5, and no
    run before the fifth."""
    from mcp import Client

    from conftest import call, traj
    from memcollab.server.app import create_server
    from memcollab.server.memory import Memory
    from memcollab.server.settings import Settings

    store = tmp_path / "s"
    import_records(Bank(store), [record_line("Algebra", "Linear Equations", "solve 2x = 4",
                                             ("an equation", "check by substitution", "skipping the check"))])
    monkeypatch.setenv("MEMCOLLAB_AUTO_MAINTAIN", "5")
    memory = Memory(Settings(store=store, warm_up=False, embeddings=False))
    async with Client(create_server(memory=memory), mode="legacy") as c:
        await call(c, "submit_trajectory", traj("Task M", "model-a", "correct"))
        await call(c, "submit_trajectory", traj("Task M", "model-b", "incorrect", "1"))
        rid = Bank(store).records()[0].id
        await call(c, "report_feedback", {"record_ids": [rid], "helped": True})
        pair = (await call(c, "next_contrast"))["pair_id"]
        await call(c, "submit_constraints", {"pair_id": pair, "category": "Algebra", "subcategory": "Linear Equations",
                                             "constraints": [{"when": "an equation is linear",
                                                              "enforce": "isolate the unknown",
                                                              "avoid": "dividing only one side"}]})
        assert memory.maintainer.runs == 0 and not memory.maintainer._running.is_set()
        await call(c, "forget", {"agent": "nobody"})
    deadline = time.monotonic() + 120  # generous: only a run that never starts fails
    while memory.maintainer.runs < 1 and time.monotonic() < deadline:
        await anyio.sleep(0.1)
    assert memory.maintainer.runs == 1


@pytest.mark.anyio
async def test_submissions_that_share_a_commit_count_as_one_write(tmp_path, monkeypatch):
    """Maintenance's work is what appends leave, so a group commit counts once: 16 submissions at once go in a
    few appends (no run at every=16); 16 in sequence are 16 appends (a run)."""
    from mcp import Client

    from conftest import call, traj
    from memcollab.server.app import create_server
    from memcollab.server.memory import Memory
    from memcollab.server.settings import Settings

    monkeypatch.setenv("MEMCOLLAB_AUTO_MAINTAIN", "16")
    memory = Memory(Settings(store=tmp_path / "s", warm_up=False, embeddings=False))
    async with Client(create_server(memory=memory), mode="legacy") as c:
        await call(c, "memory_status")
        async with anyio.create_task_group() as tg:
            for i in range(16):
                tg.start_soon(call, c, "submit_trajectory", traj(f"Burst task {i}", "model-a", "correct"))
        await anyio.sleep(1.0)
        assert memory.maintainer.runs == 0 and not memory.maintainer._running.is_set()
        assert Bank(tmp_path / "s").count("trajectories") == 16
        for i in range(16):
            await call(c, "submit_trajectory", traj(f"Sequence task {i}", "model-a", "correct"))
    deadline = time.monotonic() + 120
    while memory.maintainer.runs < 1 and time.monotonic() < deadline:
        await anyio.sleep(0.1)
    assert memory.maintainer.runs == 1


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


TRY = "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)"


@pytest.mark.skipif(sys.platform == "win32", reason="flock(2) is POSIX")
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
