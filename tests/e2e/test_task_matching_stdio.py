"""Task matching through a real `memcollab serve` over stdio: paraphrases submitted right after start — before
the embedding model has loaded — form a contrast pair once it has; a near-miss submitted alongside never
joins; `--task-match off` keeps tasks apart."""

from __future__ import annotations

import time

import anyio
import pytest
from conftest import call, stdio_client, traj

from memcollab.store.bank import Bank

pytestmark = pytest.mark.anyio


async def _status_until(client, ready, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        st = await call(client, "memory_status")
        if ready(st) or time.monotonic() > deadline:
            return st
        await anyio.sleep(0.5)


async def test_paraphrases_pair_once_the_model_has_loaded_and_near_misses_never_join(store):
    async with stdio_client(store) as c:
        a = await call(c, "submit_trajectory", traj("How many positive divisors does 360 have?", "model-a",
                                                    "correct", answer="24"))
        b = await call(c, "submit_trajectory", traj("Find the number of positive divisors of 360.", "model-b",
                                                    "incorrect", answer="20"))
        miss = await call(c, "submit_trajectory", traj("How many positive divisors does 350 have?", "model-c",
                                                       "incorrect", answer="10"))
        first = await call(c, "memory_status")
        st = await _status_until(c, lambda s: s["pairs_by_status"].get("pending", 0) >= 1
                                 and s["embedding_model"] == "ready")
        assert st["pairs_by_status"] == {"pending": 1}, st
        assert st["trajectories_by_task_match"] == {"text": 2, "similar": 1}
        assert st["tasks"] == 2 and st["tasks_joined"] == 1
    # the model was still loading when the three were submitted (the server starts answering before it loads)
    assert first["embedding_model"] in ("loading", "not loaded"), first
    bank = Bank(store)
    (pair,) = bank.pairs()
    assert (pair.task_id, pair.preferred_model, pair.unpreferred_model) == (a["task_id"], "model-a", "model-b")
    assert bank.get_trajectories([b["trajectory_id"]])[b["trajectory_id"]].task_id == a["task_id"]
    assert bank.get_trajectories([miss["trajectory_id"]])[miss["trajectory_id"]].task_id == miss["task_id"]


async def test_task_match_off_keeps_paraphrases_apart(store):
    async with stdio_client(store, "--task-match", "off") as c:
        await call(c, "submit_trajectory", traj("How many positive divisors does 360 have?", "model-a", "correct"))
        await call(c, "submit_trajectory", traj("Find the number of positive divisors of 360.", "model-b",
                                                "incorrect", answer="20"))
        st = await _status_until(c, lambda s: s["embedding_model"] == "ready", timeout=60)
        assert st["embedding_model"] == "ready"
        await anyio.sleep(1.0)  # a pairer batch would have run by now
        st = await call(c, "memory_status")
        assert st["pairs_by_status"] == {} and st["tasks"] == 2 and st["tasks_joined"] == 0
