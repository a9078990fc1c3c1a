"""Group commit: concurrent writers in one process share one LanceDB commit.

Each caller queues its item. When no commit is in flight, a caller becomes the committer: it takes *every*
queued item and writes them with one call of the batch function, then wakes the others; callers whose
items went into that batch return with their results, the rest elect the next committer. So while one
commit is in flight the writes that arrive queue up and go together into the next one, and each caller
returns only after the commit holding its item has returned (acknowledged = committed).

When the last commit carried several items (several callers are active), the committer lingers up to
LINGER seconds for up to twice as many items as that commit had, so callers that were just answered and are
sending their next write join this commit instead of the one after. (Waiting only for as many settles into
two half-size batches taking turns: with 8 callers, commits of 4.) A single caller in sequence never waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

MAX_BATCH = 256
LINGER = 0.004


class GroupCommit(Generic[In, Out]):
    def __init__(self, write_batch: Callable[[list[In]], list[Out]], linger: float = LINGER):
        self.write_batch = write_batch
        self.linger = linger
        self._queue: list[tuple[In, Future[Out]]] = []
        self._cond = threading.Condition()  # guards _queue and _committing; notified on arrivals and commits
        self._committing = False
        self._last = 1  # items in the last commit
        self.batches = 0  # commits made (for benchmarks and tests)

    def submit(self, item: In) -> Out:
        fut: Future[Out] = Future()
        with self._cond:
            self._queue.append((item, fut))
            self._cond.notify_all()
            while not fut.done():
                if self._committing:  # wait for that commit (it may hold our item) to finish
                    self._cond.wait()
                    continue
                self._committing = True
                batch = self._take()
                self._cond.release()
                try:
                    self._commit(batch)
                finally:
                    self._cond.acquire()
                    self._committing = False
                    self._cond.notify_all()
        return fut.result()

    def _take(self) -> list[tuple[In, Future[Out]]]:
        """The queued items (caller holds _cond)."""
        if self._last > 1 and self.linger > 0:
            deadline = time.monotonic() + self.linger
            while len(self._queue) < min(2 * self._last, MAX_BATCH):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        return batch

    def _commit(self, batch: list[tuple[In, Future[Out]]]) -> None:
        self.batches += 1
        self._last = len(batch)
        try:
            results = self.write_batch([item for item, _ in batch])
        except BaseException as exc:  # every caller of the batch gets the error; nothing is acknowledged
            for _, fut in batch:
                fut.set_exception(exc)
            return
        for (_, fut), res in zip(batch, results, strict=True):
            fut.set_result(res)
