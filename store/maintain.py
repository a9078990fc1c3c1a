"""Maintenance for long use: compaction, index refresh and cleanup of old versions.

Every LanceDB write adds a version and usually a small fragment; thousands of single-row submits mean
thousands of files and slower scans. `maintain` compacts each table's small fragments, folds new rows into
its indexes (FTS, B-tree, bitmap), and removes versions older than `KEEP_VERSIONS_FOR` (`AUTO_KEEP_VERSIONS_FOR`
in the server's automatic runs; never `delete_unverified`, so files another process is still writing are left
alone).

One process at a time: a file lock (<store>/.maintain.lock, non-blocking) on a local store, a lease row with
an expiry on object storage (store/lease.py); a process that finds it held skips. On object storage it also
removes racing duplicate ids (store/dedup.py). The server runs it by itself in a background thread every `AUTO_EVERY` writes (MEMCOLLAB_AUTO_MAINTAIN,
0 turns it off); `memcollab maintain` runs it by hand.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

from .bank import TABLES, Bank, retry
from .progress import progress

log = logging.getLogger("memcollab.maintain")
KEEP_VERSIONS_FOR = timedelta(minutes=10)
# The server's own runs keep old versions only 10 seconds. The cleanup reads every version it keeps, so with 10
# minutes each run grew with the versions of the last 10 minutes (under steady writes, thousands): runs of several
# seconds, every 100 writes. Cleanup removes a replaced version written longer ago than this; every read here is
# one query of milliseconds (export reads each table in one), and a version read just before a table idle for ten
# minutes is replaced has the same exposure with either setting.
AUTO_KEEP_VERSIONS_FOR = timedelta(seconds=10)
LEASE_TTL = timedelta(minutes=10)  # on object storage; renewed before each table
AUTO_EVERY = 100
COMPACT_ROWS = 10_000  # fragments this large are final: compaction never rewrites them


def _fragments(tbl: Any) -> int:
    try:
        return int(tbl.stats()["fragment_stats"]["num_fragments"])
    except Exception:
        return -1


KEY_INDEXES = {"trajectories": ("id", "task_id"), "pairs": ("id", "task_id", "status"), "records": ("id",)}


def _ensure_key_indexes(bank: Bank) -> None:
    """B-tree indexes on the columns every write and read filters on; optimize() keeps them current."""
    from lancedb.index import BTree

    for name, cols in KEY_INDEXES.items():
        tbl = bank.table(name)
        if tbl.count_rows() == 0:
            continue
        have = {tuple(getattr(i, "columns", ())) for i in tbl.list_indices()}
        for col in cols:
            if (col,) not in have:
                retry(lambda c=col: tbl.create_index(c, config=BTree()), f"index {name}.{col}")


def _optimize(bank: Bank, name: str, uri: str, keep_versions_for: timedelta | None) -> None:
    """Compact the table's small fragments, fold new rows into its indexes, remove old versions (Lance's own
    dataset API: LanceDB's `optimize()` does the three in one call and rewrites every fragment under a million
    rows, so each run rewrote the whole table: ~1 s at 100k trajectories, every 100 writes, appends waiting).
    Compaction leaves fragments of COMPACT_ROWS rows or more alone, so a run's work is the rows written since
    the last one and the partial fragment they join.

    The compacted files are written without any lock; only the compaction's commit, and the index refresh, hold
    the insert lock every local writer takes. Without it, under a steady stream of appends the compaction kept
    losing its commit to them, for minutes; holding it for the whole compaction made every append of those
    ~100 ms wait (with one run every 100 writes, ~1-2 ms on every write). The commit is rebased on the appends
    made while the files were written (Lance: an append and a rewrite of other fragments do not conflict). The
    cleanup, which reads every version kept, runs after the lock is released."""
    import lance
    from lance.optimize import Compaction, CompactionOptions

    def dataset() -> Any:  # each attempt on the latest version
        return lance.dataset(uri, storage_options=bank.location.options or None)

    def compact() -> None:
        ds = dataset()
        plan = Compaction.plan(ds, CompactionOptions(target_rows_per_fragment=COMPACT_ROWS))
        if not plan.tasks:
            return
        rewrites = [task.execute(ds) for task in plan.tasks]
        with bank.location.insert_lock(name):
            Compaction.commit(dataset(), rewrites)

    retry(compact, f"compact {name}")
    with bank.location.insert_lock(name):
        retry(lambda: dataset().optimize.optimize_indices(), f"index {name}")
    if keep_versions_for is not None:
        retry(lambda: dataset().cleanup_old_versions(older_than=keep_versions_for, delete_unverified=False),
              f"cleanup {name}")


def maintain(bank: Bank, keep_versions_for: timedelta | None = KEEP_VERSIONS_FOR,
             show_progress: bool = False, only_changed: bool = False) -> dict[str, Any] | None:
    """Optimize every table; None when another process holds the maintenance lock. `keep_versions_for`: None
    leaves old versions for a later run (the cleanup reads every version kept). `show_progress`: a
    progress bar (or lines) on stderr, for the CLI; the server's automatic runs stay silent. `only_changed`
    (the automatic runs): skip a table nobody has written since this process last optimized it — optimizing all
    eleven tables every 100 writes cost more than the writes themselves."""
    from .dedup import remove_duplicates
    from .lease import one_at_a_time

    bank.connect()
    # one process at a time: a file lock on a local store, a lease row in the bank on object storage
    with one_at_a_time(bank, "maintain", LEASE_TTL) as held:
        if held is None:
            log.info("maintenance already running in another process; skipped")
            return None
        report: dict[str, Any] = {}
        started = time.monotonic()
        db = bank.connect()
        _ensure_key_indexes(bank)
        names = db.list_tables().tables
        done = bank.__dict__.setdefault("_maintained_versions", {})  # table -> version after this process's run
        with progress("maintain", total=len(names)) if show_progress else nullcontext() as bar:
            for name in names:
                if not held.renew():
                    log.warning("maintenance lease lost (expired and taken elsewhere); stopping")
                    break
                tbl = bank.table(name) if name in TABLES else db.open_table(name)
                if only_changed and done.get(name) == tbl.version:
                    if bar is not None:
                        bar.advance(note=name)
                    continue
                before = _fragments(tbl)
                if bank.location.remote:  # no insert lock reaches another machine: drop racing duplicates
                    report.setdefault("duplicates_removed", {})[name] = remove_duplicates(bank, name)
                _optimize(bank, name, tbl.uri, keep_versions_for)
                report[name] = {"fragments_before": before, "fragments_after": _fragments(tbl)}
                done[name] = tbl.version
                if bar is not None:
                    bar.advance(note=name)
        report["seconds"] = round(time.monotonic() - started, 3)
        return report


def auto_every() -> int:
    try:
        return int(os.environ.get("MEMCOLLAB_AUTO_MAINTAIN", AUTO_EVERY))
    except ValueError:
        return AUTO_EVERY


class AutoMaintainer:
    """Counts this process's writes and runs maintenance in a background thread every N of them. A write is an
    append (or update): a group commit of several submissions counts once, since maintenance's work is the
    fragments and versions appends leave (8 concurrent submitters: ~8 submissions per append)."""

    def __init__(self, bank: Bank, every: int | None = None):
        self.bank, self.every = bank, auto_every() if every is None else every
        self._writes = 0
        self._lock = threading.Lock()
        self._running = threading.Event()
        self.runs = 0
        self.last_report: dict[str, Any] | None = None
        self._cleaned: float | None = None  # monotonic time of the last run that removed old versions

    def wrote(self, n: int = 1) -> None:
        if self.every <= 0:
            return
        with self._lock:
            self._writes += n
            due = self._writes >= self.every and not self._running.is_set()
            if due:
                self._writes = 0
                self._running.set()
        if due:
            threading.Thread(target=self._run, name="memcollab-maintain", daemon=True).start()

    def _run(self) -> None:
        try:
            # Old versions go at most once per AUTO_KEEP_VERSIONS_FOR: the cleanup reads every version kept, so
            # in every run (every 100 writes) it cost more than the compaction itself.
            started = time.monotonic()
            clean = self._cleaned is None or started - self._cleaned >= AUTO_KEEP_VERSIONS_FOR.total_seconds()
            report = maintain(self.bank, keep_versions_for=AUTO_KEEP_VERSIONS_FOR if clean else None,
                              only_changed=True)
            if report is not None:
                self.runs += 1
                self.last_report = report
                if clean:
                    self._cleaned = started
        except Exception:
            log.exception("automatic maintenance failed; it will be tried again later")
        finally:
            self._running.clear()
