"""Pairing (distill/pairing.py): chunked reads, the pairs lock, the model ranking, re-pointing.

pair_tasks reads 500 tasks at a time: a task past the first 500 is paired once and counted once (real
LanceDB in a temp dir).

Pairing holds the pairs insert lock across its read and its append (distill/pairing.py sync_pairs): the same
lock file every writer on this machine takes, so two processes pairing one task cannot both add its pairs. A
second FlockLock on that file stands in for the other process (flock conflicts between two open descriptions
even in one process). Real LanceDB in a temp dir.

The model ranking that picks τ+ (MEMCOLLAB_MODEL_RANKING): a versioned model name counts as its family.

Re-pointing pending pairs touches exactly the pairs it should, in the store and in the server's caches:
other tasks' pairs keep their τ+, a fresh process reads one task's pairs among many, and a cache that was
updated right makes no extra write. In-memory MCP server over real LanceDB in a temp dir."""

from __future__ import annotations

import threading

import pytest

from conftest import call, memory_client, pairs_written, traj
from memcollab.distill.pairing import _strength, model_ranking, pair_task, pair_tasks
from memcollab.store.bank import Bank, eq
from memcollab.store.location import FlockLock
from memcollab.store.models import TrajectoryIn


def test_a_task_past_the_first_read_is_counted_once(bank):
    ts = [TrajectoryIn(**traj("Paired late: solve for x.", "good-model", "correct")).to_trajectory(),
          TrajectoryIn(**traj("Paired late: solve for x.", "bad-model", "incorrect", answer="7")).to_trajectory()]
    bank.add_trajectories(ts)
    ids = [f"t-nothing-{i}" for i in range(500)] + [ts[0].task_id]  # tasks without trajectories pair nothing
    assert pair_tasks(bank, ids) == 1
    assert bank.count("pairs") == 1


def test_pairing_waits_for_the_pairs_insert_lock(bank):
    ts = [TrajectoryIn(**traj("Locked pairing: solve for x.", "good-model", "correct")).to_trajectory(),
          TrajectoryIn(**traj("Locked pairing: solve for x.", "bad-model", "incorrect", answer="7")).to_trajectory()]
    bank.add_trajectories(ts)
    done, result = threading.Event(), {}

    def pair() -> None:
        result["pending"] = pair_task(bank, ts[0].task_id)
        done.set()

    with FlockLock(bank.location.path / ".insert-pairs.lock"):  # held as another process would hold it
        threading.Thread(target=pair, daemon=True).start()
        # still waiting while the lock is held (unlocked, pairing this bank takes milliseconds); correct code
        # cannot fail this on a slow machine, it can only wait longer
        assert not done.wait(1.0)
    assert done.wait(120)
    assert result["pending"] == 1 and bank.count("pairs") == 1


def test_a_versioned_name_ranks_as_its_family(monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_MODEL_RANKING", " GPT-4o , llama-3 ,")
    ranking = model_ranking()
    assert ranking == ["gpt-4o", "llama-3"]
    assert _strength("gpt-4o", ranking) == 0
    assert _strength("GPT-4o-2024-08-06", ranking) == 0
    assert _strength("llama-3-8b", ranking) == 1
    assert _strength("unranked-model", ranking) == 2
    monkeypatch.delenv("MEMCOLLAB_MODEL_RANKING")
    assert model_ranking() == []


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


@pytest.mark.anyio
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


@pytest.mark.anyio
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
