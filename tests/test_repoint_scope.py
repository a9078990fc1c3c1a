"""Re-pointing pending pairs touches exactly the pairs it should, in the store and in the server's caches:
other tasks' pairs keep their τ+, a fresh process reads one task's pairs among many, and a cache that was
updated right makes no extra write. In-memory MCP server over real LanceDB in a temp dir."""

from __future__ import annotations

import pytest

from conftest import call, memory_client, pairs_written, traj
from memcollab.distill.pairing import pair_task
from memcollab.store.bank import Bank, eq

pytestmark = pytest.mark.anyio

A = "Scope task A: how many faces does a cube have?"
B = "Scope task B: how many corners does a triangle have?"


def _pair_of(bank: Bank, task_id: str):
    (p,) = bank.pairs(eq("task_id", task_id))
    return p


async def _one_more_loser_is_one_append(c, bank: Bank, task: str, task_id: str, preferred_id: str) -> None:
    """Another losing submission on the task: its new pair is one append and no update (the server's cache
    held the pending pair as stored), and every pair of the task keeps the same τ+."""
    version = bank.table("pairs").version
    r = await call(c, "submit_trajectory", traj(task, "weak2", "incorrect", "5"))
    assert r["pending_pairs"] == 2
    await pairs_written(c)
    bank.table("pairs").checkout_latest()
    assert bank.table("pairs").version == version + 1
    assert {p.preferred_id for p in bank.pairs(eq("task_id", task_id))} == {preferred_id}


async def test_a_stronger_answer_repoints_only_its_own_tasks_pending_pair(store, monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_MODEL_RANKING", "best,mid")
    async with memory_client(store, embeddings=False) as c:
        a_mid = await call(c, "submit_trajectory", traj(A, "mid", "correct", "6"))
        await call(c, "submit_trajectory", traj(A, "weak", "incorrect", "4"))
        b_mid = await call(c, "submit_trajectory", traj(B, "mid", "correct", "3"))
        await call(c, "submit_trajectory", traj(B, "weak", "incorrect", "4"))
        bank = Bank(store)
        ta, tb = a_mid["task_id"], b_mid["task_id"]
        a_best = await call(c, "submit_trajectory", traj(A, "best", "correct", "6"))
        assert a_best["pending_pairs"] == 1
        await pairs_written(c)
        assert _pair_of(bank, ta).preferred_id == a_best["trajectory_id"]
        pb = _pair_of(bank, tb)
        assert (pb.preferred_id, pb.preferred_model) == (b_mid["trajectory_id"], "mid")  # untouched

        # the server's cache holds what the store holds: on B, and on A, whose pair it re-pointed (the cached
        # pair has the new τ+, so nothing is re-pointed again)
        await _one_more_loser_is_one_append(c, bank, B, tb, b_mid["trajectory_id"])
        await _one_more_loser_is_one_append(c, bank, A, ta, a_best["trajectory_id"])


async def test_a_fresh_process_reads_one_tasks_pairs_among_many(store, monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_MODEL_RANKING", "best,mid")
    async with memory_client(store, embeddings=False) as c:
        a = await call(c, "submit_trajectory", traj(A, "mid", "correct", "6"))
        await call(c, "submit_trajectory", traj(A, "weak", "incorrect", "4"))
        await call(c, "submit_trajectory", traj(B, "mid", "correct", "3"))
        await call(c, "submit_trajectory", traj(B, "weak", "incorrect", "4"))
    fresh = Bank(store)  # empty caches, as in another process
    assert pair_task(fresh, a["task_id"]) == 1
    assert len(fresh.pairs()) == 2
