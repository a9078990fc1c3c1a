"""Bad input gets a tool error that names what to fix, and nothing is written."""

from __future__ import annotations

import pytest

from conftest import call, call_error, memory_client, traj
from memcollab.store.bank import Bank
from memcollab.store.models import MAX_NAME, MAX_STEPS, MAX_TASK

pytestmark = pytest.mark.anyio

GOOD = traj("What is 2 + 2?", "gpt-4o", "correct", "4")


def with_(**kw):
    return {**GOOD, **kw}


BAD_SUBMITS = [
    (with_(outcome="maybe"), "outcome"),
    (with_(task=""), "task"),
    (with_(task="   \n\t "), "task is empty"),
    (with_(model=""), "model"),
    (with_(task="x" * (MAX_TASK + 1)), "task is"),
    (with_(model="m" * (MAX_NAME + 1)), "model is"),
    (with_(steps=["s"] * (MAX_STEPS + 1)), "steps"),
    (with_(steps=["s" * 20_001]), "step 0"),
    (with_(final_answer="a" * 20_001), "final_answer"),
    (with_(metadata={"k": "v" * 20_001}), "metadata"),
    (with_(metadata={"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}), "metadata nests"),
    (with_(metadata="not json"), "metadata"),
    (with_(metadata=[1, 2]), "metadata"),
    (with_(subcategory="Quadratics"), "subcategory given without category"),
    (with_(task=12345), "task"),
    (with_(steps=[1, 2]), "steps"),
    ({"task": "T", "model": "m"}, "final_answer"),
]


@pytest.mark.parametrize("args,needle", BAD_SUBMITS)
async def test_bad_submissions_are_refused_and_nothing_is_written(store, args, needle):
    async with memory_client(store) as c:
        await call(c, "submit_trajectory", traj("seed task", "seed-model", "correct"))
        before = Bank(store).count("trajectories")
        msg = await call_error(c, "submit_trajectory", args)
    assert needle in msg, msg
    assert "Traceback" not in msg
    assert Bank(store).count("trajectories") == before
    assert Bank(store).count("pairs") == 0


@pytest.mark.parametrize("args,needle", [
    ({"task": ""}, "task"),
    ({"task": "x", "limit": 0}, "limit"),
    ({"task": "x", "limit": 1000}, "limit"),
    ({"task": "x", "limit": "many"}, "limit"),
    ({"task": "x" * (MAX_TASK + 1)}, "task"),
    ({"task": "x", "category": "c" * (MAX_NAME + 1)}, "category"),
    ({}, "task"),
])
async def test_bad_queries_are_refused(store, args, needle):
    async with memory_client(store) as c:
        msg = await call_error(c, "get_constraints", args)
    assert needle in msg, msg


async def test_outcome_aliases_are_tolerated(store):
    async with memory_client(store) as c:
        a = await call(c, "submit_trajectory", with_(outcome="PASSED"))
        b = await call(c, "submit_trajectory", with_(outcome=" Incorrect ", model="other"))
    assert a["stored"] and b["pending_pairs"] == 1
