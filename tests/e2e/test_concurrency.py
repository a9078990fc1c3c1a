"""Four `memcollab serve` processes on one store, submitting at once: nothing lost, nothing duplicated."""

from __future__ import annotations

import anyio
import pytest

from conftest import call, stdio_client, traj
from memcollab.distill.pairing import pairs_for
from memcollab.store.bank import Bank
from memcollab.store.models import TrajectoryIn

pytestmark = pytest.mark.anyio

PROCS, EACH = 4, 100


def workload(p: int) -> list[dict]:
    """Process p's 100 submissions. Tasks are shared across processes, so pairs form concurrently."""
    out = []
    for i in range(EACH):
        task = f"Shared task number {i % 25}: how many ways to arrange {i % 25} books?"
        outcome = "correct" if (p + i) % 2 == 0 else "incorrect"
        out.append(traj(task, f"model-{p}", outcome, str(p * 1000 + i), steps=[f"process {p} attempt {i}"]))
    return out


async def test_four_processes_lose_and_duplicate_nothing(store):
    acked: list[list[str]] = [[] for _ in range(PROCS)]

    async def worker(p: int) -> None:
        # embeddings off: four torch loads on a 2-core machine would only slow this write test down
        async with stdio_client(store, MEMCOLLAB_EMBEDDINGS="off") as c:
            for args in workload(p):
                acked[p].append((await call(c, "submit_trajectory", args))["trajectory_id"])

    async with anyio.create_task_group() as tg:
        for p in range(PROCS):
            tg.start_soon(worker, p)

    bank = Bank(store)
    ids = bank.table("trajectories").to_arrow().column("id").to_pylist()
    assert len(ids) == PROCS * EACH == len(set(ids))
    assert set(ids) == {i for a in acked for i in a}
    expected = [TrajectoryIn(**a).to_trajectory() for p in range(PROCS) for a in workload(p)]
    by_task: dict[str, list] = {}
    for t in expected:
        by_task.setdefault(t.task_id, []).append(t)
    expected_pairs = {pr.id for ts in by_task.values() for pr in pairs_for(ts)}
    pair_ids = bank.table("pairs").to_arrow().column("id").to_pylist()
    assert len(pair_ids) == len(set(pair_ids)) == len(expected_pairs)
    assert set(pair_ids) == expected_pairs


ROUNDS = 5


async def test_same_trajectory_from_four_processes_is_stored_once(store):
    """A real race: the four servers are all up (each has opened the store) before any submission, then every
    round's submissions are released together, so the four check-then-insert steps overlap."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(stdio_client(store, MEMCOLLAB_EMBEDDINGS="off"))
                   for _ in range(PROCS)]
        for c in clients:  # warm: every server has its tables open, so nothing delays its insert
            await call(c, "submit_trajectory", traj(f"warm-up {id(c)}", "gpt-4o", "correct", "1"))
        for rnd in range(ROUNDS):
            same = traj(f"One task everyone submits, round {rnd}", "gpt-4o", "correct", "7")
            results: list[dict] = []
            go = anyio.Event()

            async def worker(c, same=same, results=results, go=go) -> None:
                await go.wait()
                results.append(await call(c, "submit_trajectory", same))

            async with anyio.create_task_group() as tg:
                for c in clients:
                    tg.start_soon(worker, c)
                await anyio.sleep(0.05)  # every worker is parked on the event
                go.set()
            assert len({r["trajectory_id"] for r in results}) == 1
            assert sum(r["stored"] for r in results) == 1, f"round {rnd}: stored {sum(r['stored'] for r in results)}x"
    ids = Bank(store).table("trajectories").to_arrow().column("id").to_pylist()
    assert len(ids) == len(set(ids)) == PROCS + ROUNDS
