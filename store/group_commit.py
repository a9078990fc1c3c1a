"""Group commit: concurrent writers in one process share one LanceDB commit.

Each caller queues its item. When no commit is in flight, a caller becomes the committer: it takes *every*
queued item and writes them with one call of the batch function, then answers each caller of the batch;
if items arrived meanwhile, it hands the commit over to the caller of the oldest one. So while one commit is
in flight the writes that arrive queue up and go together into the next one, and each caller returns only
after the commit holding its item has returned (acknowledged = committed).

Each waiting caller is woken once, by its own event: when its result is in, or when it is to commit next.
(Waking every waiter on every arrival and every commit cost more CPU than the commit itself with 8 callers.)

When the last commit carried several items (several callers are active), the committer lingers up to
LINGER seconds for up to twice as many items as that commit had, so callers that were just answered and are
sending their next write join this commit instead of the one after. (Waiting only for as many settles into
two half-size batches taking turns: with 8 callers, commits of 4.) A single caller in sequence never waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

MAX_BATCH = 256
LINGER = 0.004


class _Slot(Generic[In, Out]):
    __slots__ = ("item", "event", "done", "result", "error")

    def __init__(self, item: In):
        self.item = item
        self.event = threading.Event()  # set when done, or when this caller is to commit next
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class GroupCommit(Generic[In, Out]):
    def __init__(self, write_batch: Callable[[list[In]], list[Out]], linger: float = LINGER):
        self.write_batch = write_batch
        self.linger = linger
        self._lock = threading.Lock()  # guards _queue, _committing and _lingering
        self._arrived = threading.Condition(self._lock)  # only a lingering committer waits on it
        self._queue: list[_Slot[In, Out]] = []
        self._committing = False
        self._lingering = False
        self._last = 1  # items in the last commit
        self.batches = 0  # commits made (for benchmarks and tests)

    def submit(self, item: In) -> Out:
        slot: _Slot[In, Out] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            commit_now = not self._committing
            self._committing = True
            if not commit_now and self._lingering:
                self._arrived.notify()
        if not commit_now:
            slot.event.wait()
        if not slot.done:  # no commit was in flight, or the last committer handed over to this caller
            self._commit_next()
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _commit_next(self) -> None:
        """Commit the queued items (this caller's among them), then hand over to the oldest item left."""
        try:
            with self._lock:
                batch = self._take()
            self._commit(batch)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].event.set()
                else:
                    self._committing = False

    def _take(self) -> list[_Slot[In, Out]]:
        """The queued items (caller holds _lock)."""
        if self._last > 1 and self.linger > 0:
            deadline = time.monotonic() + self.linger
            self._lingering = True
            while len(self._queue) < min(2 * self._last, MAX_BATCH):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            self._lingering = False
        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        return batch

    def _commit(self, batch: list[_Slot[In, Out]]) -> None:
        self.batches += 1
        self._last = len(batch)
        try:
            results = self.write_batch([s.item for s in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"write_batch returned {len(results)} results for {len(batch)} items")
        except BaseException as exc:  # every caller of the batch gets the error; nothing is acknowledged
            for s in batch:
                s.error, s.done = exc, True
                s.event.set()
            return
        for s, res in zip(batch, results, strict=True):
            s.result, s.done = res, True
            s.event.set()
