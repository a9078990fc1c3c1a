"""Group commit: concurrent writers in one process share one LanceDB commit.

Each caller queues its item and then takes the commit lock. Whoever gets the lock takes *every* queued item
and writes them with one call of the batch function; the callers whose items went into that batch find their
results ready when they get the lock in turn. So while one commit is in flight, the writes that arrive
queue up and go together into the next one, and each caller returns only after the commit holding its item
has returned (acknowledged = committed). A single caller in sequence pays nothing extra.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

MAX_BATCH = 256


class GroupCommit(Generic[In, Out]):
    def __init__(self, write_batch: Callable[[list[In]], list[Out]]):
        self.write_batch = write_batch
        self._queue: list[tuple[In, Future[Out]]] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self.batches = 0  # commits made (for benchmarks and tests)

    def submit(self, item: In) -> Out:
        fut: Future[Out] = Future()
        with self._queue_lock:
            self._queue.append((item, fut))
        while not fut.done():
            with self._commit_lock:
                if fut.done():
                    break
                with self._queue_lock:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                if batch:
                    self._commit(batch)
        return fut.result()

    def _commit(self, batch: list[tuple[In, Future[Out]]]) -> None:
        self.batches += 1
        try:
            results = self.write_batch([item for item, _ in batch])
        except BaseException as exc:  # every caller of the batch gets the error; nothing is acknowledged
            for _, fut in batch:
                fut.set_exception(exc)
            return
        for (_, fut), res in zip(batch, results, strict=True):
            fut.set_result(res)
