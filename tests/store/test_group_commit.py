"""Group commit (store/group_commit.py): one commit for callers that arrive together."""

from __future__ import annotations

import threading

import anyio
import pytest

from memcollab.store.group_commit import GroupCommit


@pytest.mark.anyio
async def test_group_commit_lingers_for_concurrent_callers_and_answers_each():
    batches: list[list[int]] = []
    gate = threading.Event()

    def write(items: list[int]) -> list[int]:  # in a worker thread
        if not batches:
            gate.wait(60)  # hold the first commit so the other callers queue behind it
        batches.append(list(items))
        return [i * 10 for i in items]

    gc = GroupCommit(write, linger=0.05)
    results: dict[int, int] = {}

    async def caller(i: int) -> None:
        results[i] = await gc.submit(i)
        results[100 + i] = await gc.submit(100 + i)  # a second write while others are still active

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(caller, i)
            while len(gc._queue) < 7:  # the first caller commits, seven queue behind it
                await anyio.sleep(0.005)
            gate.set()
    assert results == {i: i * 10 for i in [*range(8), *range(100, 108)]}
    assert sorted(i for b in batches for i in b) == [*range(8), *range(100, 108)]
    assert batches[0] == [0] and set(range(1, 8)) <= set(batches[1])  # the seven queued went together
    assert len(batches) == gc.batches <= 4  # sixteen writes, at most four commits
