"""Group commit: concurrent writers in one event loop share one LanceDB commit.

Each caller queues its item. When no commit is in flight, a caller becomes the committer: it takes *every*
queued item and writes them with one call of the batch function in a worker thread, then answers each
caller of the batch; if items arrived meanwhile, it hands the commit over to the caller of the oldest one.
So while one commit is in flight the writes that arrive queue up and go together into the next one, and
each caller returns only after the commit holding its item has returned (acknowledged = committed).

Callers wait in the event loop, not in threads: a commit costs one worker-thread hop whatever the number of
its items. (With a thread per waiting caller, the wake-ups and GIL hand-offs of 8 callers cost more than the
commit's own work.) A caller cancelled once its item is queued still waits for the commit that holds it: a
cancelled request neither loses its write nor leaves the queue without a committer.

A LanceDB append costs about the same for 1 row as for 32 (~5 ms of CPU here), so the fewer commits the
better: when the last commit ended with several writes in flight (its own and those queued behind it), the
next committer lingers up to LINGER seconds for as many, so the callers that were just answered and are
sending their next write join this commit rather than the one after. (Without it, 8 callers settle into two
batches of 4 taking turns, each paying a whole append.) A single caller in sequence never waits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import anyio

In = TypeVar("In")
Out = TypeVar("Out")

MAX_BATCH = 256
LINGER = 0.02


class _Slot(Generic[In, Out]):
    __slots__ = ("item", "event", "done", "result", "error")

    def __init__(self, item: In):
        self.item = item
        self.event = anyio.Event()  # set when done, or when this caller is to commit next
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class GroupCommit(Generic[In, Out]):
    """For callers in one event loop (every caller must run in the same loop; it is not thread-safe)."""

    def __init__(self, write_batch: Callable[[list[In]], list[Out]], linger: float = LINGER):
        self.write_batch = write_batch
        self.linger = linger
        self._queue: list[_Slot[In, Out]] = []
        self._committing = False
        self._arrived: anyio.Event | None = None  # set by each arrival while a committer lingers
        self._in_flight = 1  # writes in flight when the last commit ended (its own and those queued)
        self.batches = 0  # commits made (for benchmarks and tests)

    async def submit(self, item: In) -> Out:
        slot: _Slot[In, Out] = _Slot(item)
        self._queue.append(slot)
        with anyio.CancelScope(shield=True):
            if self._committing:
                if self._arrived is not None:
                    self._arrived.set()
                await slot.event.wait()
            if not slot.done:  # no commit was in flight, or the last committer handed over to this caller
                self._committing = True
                await self._commit_next()
        if slot.error is not None:
            raise slot.error
        return slot.result

    async def _commit_next(self) -> None:
        """Commit the queued items (this caller's among them), then hand over to the oldest item left."""
        try:
            await self._commit(await self._take())
        finally:
            if self._queue:
                self._queue[0].event.set()
            else:
                self._committing = False

    async def _take(self) -> list[_Slot[In, Out]]:
        want = min(self._in_flight, MAX_BATCH)
        if len(self._queue) < want and self.linger > 0:
            with anyio.move_on_after(self.linger):
                while len(self._queue) < want:
                    self._arrived = anyio.Event()
                    await self._arrived.wait()
            self._arrived = None
        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        return batch

    async def _commit(self, batch: list[_Slot[In, Out]]) -> None:
        self.batches += 1
        try:
            results = await anyio.to_thread.run_sync(self.write_batch, [s.item for s in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"write_batch returned {len(results)} results for {len(batch)} items")
        except BaseException as exc:  # every caller of the batch gets the error; nothing is acknowledged
            for s in batch:
                s.error, s.done = exc, True
                s.event.set()
            return
        finally:
            self._in_flight = len(batch) + len(self._queue)
        for s, res in zip(batch, results, strict=True):
            s.result, s.done = res, True
            s.event.set()
