"""Pairing after the acknowledgement: the server's submissions hand their tasks to a `Pairer`, which writes
their contrast pairs in the background, the tasks of every submission of its linger in one pair append.

Why: a pair forms on about every other submission, and each LanceDB append costs as much CPU as the rest of a
submission (~5 ms here); written on the submission's path, pairs were a third of a sequential submit's time.
What is acknowledged is the trajectory, committed before the answer; the pairs are derived from the stored
trajectories (`sync_pairs`), so writing them a moment later loses nothing:
- this process's own reads of pairs (`next_contrast`, `memory_status`, `forget`) call `settle()` first, which
  writes what is queued at once;
- another process sees the pairs within the linger (0.5 s) plus one append (the pairs feed the offline
  distiller; with 0.1 s, one client submitting in sequence paid for ten pair appends a second, ~9% of its CPU);
- a process that stops before pairing (killed) leaves tasks `pair_unpaired` finds: the server pairs them when
  it starts, the distiller before it reads its work list.
A failed pairing (a full disk, a lock held past its timeout) is logged and tried again; the tasks stay queued.

With a `TaskIndex` (store/task_index.py), the stored trajectories of each batch are matched to the tasks they
restate first, and the tasks they joined are paired with the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from memcollab.store.bank import Bank
from memcollab.store.models import Trajectory
from memcollab.store.task_index import TaskIndex

from .pairing import pair_tasks

log = logging.getLogger("memcollab.pairer")
LINGER = 0.5  # seconds a queued task waits for others to share its pair append
RETRY_AFTER = 1.0


class Pairer:
    def __init__(self, bank: Bank, linger: float | None = None, tasks: TaskIndex | None = None):
        self.bank = bank
        self.linger = LINGER if linger is None else linger
        self.tasks = tasks
        self._todo: dict[str, None] = {}
        self._match: list[Trajectory] = []  # stored trajectories for `tasks` to match
        self._busy = False  # a pairing is being written
        self._hurry = 0  # callers waiting in settle(): skip the linger
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.pairings = 0  # pairings written, each one pair append at most

    def add(self, task_ids: Iterable[str], stored: Iterable[Trajectory] = ()) -> None:
        """Queue tasks for pairing, and the trajectories just stored for task matching (with a TaskIndex)."""
        ids = list(task_ids)
        match = list(stored) if self.tasks is not None else []
        with self._cond:
            if not self._closed:
                self._todo.update(dict.fromkeys(ids))
                self._match.extend(match)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="memcollab-pairer", daemon=True)
                    self._thread.start()
                self._cond.notify_all()
                return
        pair_tasks(self.bank, ids + self._resolve(match))  # after close (shutting down): nothing lingers any more

    def settle(self, timeout: float = 30.0) -> bool:
        """Write what is queued now and wait until it is written; False if that took longer than timeout."""
        with self._cond:
            self._hurry += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: not self._todo and not self._match and not self._busy, timeout)
            finally:
                self._hurry -= 1

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread (the server's shutdown)."""
        done = self.settle(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if not done:
            log.error("pairing of %d task(s) was not written before shutdown; the next start pairs them",
                      len(self._todo))

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._todo or self._match or self._closed)
                if self._closed:
                    return
                deadline = time.monotonic() + self.linger
                while not self._hurry and not self._closed and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
                ids, self._todo, self._busy = list(self._todo), {}, True
                match, self._match = self._match, []
            failed = False
            ids = list(dict.fromkeys(ids + self._resolve(match)))
            try:
                pair_tasks(self.bank, ids)
                self.pairings += 1
            except Exception:
                log.exception("pairing %d task(s) failed; trying again in %.0f s", len(ids), RETRY_AFTER)
                failed = True
            with self._cond:
                if failed:
                    self._todo.update(dict.fromkeys(ids))
                self._busy = False
                self._cond.notify_all()
            if failed:
                time.sleep(RETRY_AFTER)

    def _resolve(self, match: list[Trajectory]) -> list[str]:
        """The tasks the trajectories joined (store/task_index.py); a failure is logged, and the trajectories
        wait for the next batch (pairing goes on without them)."""
        if self.tasks is None or not match:
            return []
        try:
            return sorted(self.tasks.resolve(match))
        except Exception:
            log.exception("task matching of %d trajectory(ies) failed; trying again with the next batch", len(match))
            self.tasks.wait(match)
            return []
