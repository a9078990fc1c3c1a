"""Every tool and resource through the SDK's in-memory Client, over a real LanceDB in a temp dir."""

from __future__ import annotations

import json

import pytest

from conftest import call, call_error, import_records, memory_client, record_line, traj
from memcollab.store.bank import Bank

pytestmark = pytest.mark.anyio


async def test_submit_returns_ids_and_is_idempotent(store):
    async with memory_client(store) as c:
        first = await call(c, "submit_trajectory", traj("Compute 17 * 3.", "gpt-4o", "correct", "51"))
        again = await call(c, "submit_trajectory", traj("Compute 17 * 3.", "gpt-4o", "correct", "51"))
        assert first["stored"] is True and again["stored"] is False
        assert first["trajectory_id"] == again["trajectory_id"]
        assert first["task_id"].startswith("t-")
        status = await call(c, "memory_status")
    assert status["trajectories"] == 1
    assert Bank(store).count("trajectories") == 1


async def test_same_task_text_meets_on_one_task_id(store):
    async with memory_client(store) as c:
        a = await call(c, "submit_trajectory", traj("Find x if 2x = 10.", "claude-3", "correct", "5"))
        b = await call(c, "submit_trajectory", traj("Find  x if 2x = 10. ", "llama-3-8b", "incorrect", "4"))
    assert a["task_id"] == b["task_id"]
    assert b["pending_pairs"] == 1


async def test_pairs_need_a_different_model(store):
    async with memory_client(store) as c:
        await call(c, "submit_trajectory", traj("Task S", "qwen2.5-7b", "correct", "1"))
        r = await call(c, "submit_trajectory", traj("Task S", "qwen2.5-7b", "incorrect", "2"))
        assert r["pending_pairs"] == 0
        r = await call(c, "submit_trajectory", traj("Task S", "qwen2.5-32b", "incorrect", "3"))
        assert r["pending_pairs"] == 1
        # unknown outcomes never pair
        r = await call(c, "submit_trajectory", traj("Task S", "llama-3-8b", "unknown", "4"))
        assert r["pending_pairs"] == 1


async def test_one_preferred_against_each_unpreferred_by_ranking(store, monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_MODEL_RANKING", "qwen2.5-32b,gpt-4o")
    async with memory_client(store) as c:
        task = "Count the primes below 20."
        long_steps = ["step"] * 10
        await call(c, "submit_trajectory", traj(task, "gpt-4o", "correct", "8", steps=["short"]))
        await call(c, "submit_trajectory", traj(task, "qwen2.5-32b", "correct", "8", steps=long_steps))
        await call(c, "submit_trajectory", traj(task, "llama-3-8b", "incorrect", "7"))
        r = await call(c, "submit_trajectory", traj(task, "qwen2.5-7b", "incorrect", "9"))
    assert r["pending_pairs"] == 2
    pairs = Bank(store).pairs()
    assert len(pairs) == 2
    assert {p.unpreferred_model for p in pairs} == {"llama-3-8b", "qwen2.5-7b"}
    # the ranking beats trajectory length
    assert {p.preferred_model for p in pairs} == {"qwen2.5-32b"}


async def test_shorter_trajectory_wins_without_ranking(store, monkeypatch):
    monkeypatch.delenv("MEMCOLLAB_MODEL_RANKING", raising=False)
    async with memory_client(store) as c:
        await call(c, "submit_trajectory", traj("T2", "model-a", "correct", "1", steps=["a " * 200]))
        await call(c, "submit_trajectory", traj("T2", "model-b", "correct", "1", steps=["b"]))
        await call(c, "submit_trajectory", traj("T2", "model-c", "incorrect", "2"))
    (pair,) = Bank(store).pairs()
    assert pair.preferred_model == "model-b"


@pytest.mark.parametrize("steps,expected", [
    (["one", "two"], ["one", "two"]),
    ('["one", "two"]', ["one", "two"]),
    ("just one paragraph of reasoning", ["just one paragraph of reasoning"]),
    (None, []),
])
async def test_steps_in_every_shape_clients_send(store, steps, expected):
    async with memory_client(store) as c:
        r = await call(c, "submit_trajectory", {"task": "T", "model": "m", "final_answer": "a",
                                                "outcome": "correct", "steps": steps})
    (t,) = Bank(store).trajectories()
    assert t.id == r["trajectory_id"]
    assert t.steps == expected


async def test_metadata_and_tags_round_trip(store):
    async with memory_client(store) as c:
        await call(c, "submit_trajectory", traj("T3", "m", "correct", category="Algebra",
                                                subcategory="Linear Equations", agent="solver-1",
                                                metadata={"run": 3, "tags": ["x"]}, task_id="my-task-7"))
    (t,) = Bank(store).trajectories()
    assert (t.category, t.subcategory, t.agent, t.task_id) == ("Algebra", "Linear Equations", "solver-1", "my-task-7")
    assert t.metadata == {"run": 3, "tags": ["x"]}


def _bank_with_records(store):
    bank = Bank(store)
    import_records(bank, [
        record_line("Algebra", "Linear Equations", "Solve 3x + 5 = 20 for x.",
                    ("isolating a variable", "apply the same operation to both sides", "moving terms without sign change")),
        record_line("Algebra", "Linear Equations", "Find y when 2y - 7 = 9.",
                    ("a linear equation has constants on one side", "check the solution by substitution",
                     "dividing before subtracting")),
        record_line("Algebra", "Quadratics", "Solve x^2 - 5x + 6 = 0.",
                    ("a quadratic factors", "find both roots", "dropping the negative root")),
        record_line("Geometry", "Circles", "Find the area of a circle with radius r.",
                    ("an area of a circle is asked", "square the radius before multiplying by pi",
                     "using the diameter as the radius")),
    ])
    return bank


async def test_get_constraints_hard_filters_on_the_tag(store):
    _bank_with_records(store)
    async with memory_client(store) as c:
        r = await call(c, "get_constraints", {"task": "Solve 4x + 1 = 13 for x.", "category": "Algebra",
                                              "subcategory": "Linear Equations"})
    assert r["match"] == "subcategory"
    assert len(r["records"]) == 2
    assert {x["subcategory"] for x in r["records"]} == {"Linear Equations"}
    # BM25 puts the record sharing "solve ... for x" first
    assert "both sides" in r["records"][0]["constraints"][0]["enforce"]
    assert r["records"][0]["score"] > r["records"][1]["score"]


async def test_get_constraints_falls_back_and_says_so(store):
    _bank_with_records(store)
    async with memory_client(store) as c:
        cat = await call(c, "get_constraints", {"task": "Solve x^3 = 8", "category": "Algebra",
                                                "subcategory": "Cubics"})
        anyr = await call(c, "get_constraints", {"task": "area of a circle", "category": "Number Theory",
                                                 "subcategory": "Primes"})
        untagged = await call(c, "get_constraints", {"task": "area of a circle of radius 2"})
    assert cat["match"] == "category" and {x["category"] for x in cat["records"]} == {"Algebra"}
    assert "no records for the exact subcategory" in cat["guidance"]
    assert anyr["match"] == "any" and anyr["records"][0]["category"] == "Geometry"
    assert untagged["records"][0]["category"] == "Geometry"


async def test_get_constraints_limit_and_guidance(store):
    _bank_with_records(store)
    async with memory_client(store) as c:
        r = await call(c, "get_constraints", {"task": "solve", "limit": 1})
        g = (await call(c, "get_constraints", {"task": "Solve 3x + 5 = 20", "category": "Algebra",
                                               "subcategory": "Linear Equations"}))["guidance"]
    assert len(r["records"]) == 1
    assert "When isolating a variable, enforce apply the same operation to both sides" in g
    assert "advice" in g and "not instructions" in g and "supported by 1 contrast" in g


async def test_get_constraints_on_an_empty_bank(store):
    async with memory_client(store) as c:
        r = await call(c, "get_constraints", {"task": "anything"})
    assert r["match"] == "none" and r["records"] == [] and r["guidance"] == ""


async def test_memory_status_counts(store):
    _bank_with_records(store)
    async with memory_client(store) as c:
        await call(c, "submit_trajectory", traj("T", "a", "correct"))
        await call(c, "submit_trajectory", traj("T", "b", "incorrect", "1"))
        s = await call(c, "memory_status")
    assert s["trajectories"] == 2 and s["tasks"] == 1
    assert s["trajectories_by_outcome"] == {"correct": 1, "incorrect": 1}
    assert s["pairs_by_status"] == {"pending": 1}
    assert s["records"] == 4 and s["records_by_category"] == {"Algebra": 3, "Geometry": 1}
    assert s["models"] == {"a": 1, "b": 1}


async def test_resources(store):
    async with memory_client(store) as c:
        await call(c, "submit_trajectory", traj("T", "a", "correct"))
        listed = {str(r.uri) for r in (await c.list_resources()).resources}
        assert {"memcollab://taxonomy", "memcollab://status"} <= listed
        tax = json.loads((await c.read_resource("memcollab://taxonomy")).contents[0].text)
        st = json.loads((await c.read_resource("memcollab://status")).contents[0].text)
    math = next(d for d in tax["domains"] if d["domain"] == "math")
    assert {"Prealgebra", "Algebra", "Number Theory", "Counting & Probability", "Geometry",
            "Intermediate Algebra", "Precalculus"} <= {c["name"] for c in math["categories"]}
    assert st["trajectories"] == 1


async def test_tools_carry_annotations_and_output_schemas(store):
    async with memory_client(store) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert tools["get_constraints"].annotations.read_only_hint is True
    assert tools["submit_trajectory"].annotations.read_only_hint is False
    assert tools["submit_trajectory"].annotations.destructive_hint is False
    for name in ("submit_trajectory", "get_constraints", "memory_status"):
        assert tools[name].output_schema is not None, name
