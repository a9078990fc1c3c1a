"""forget (store/forget.py): the tool, the CLI, tombstones, chunks, hostile filters.

forget (tool and CLI), tombstones, and hostile strings in every filter.

forget over more ids than one filter chunk, and what its tombstones record."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import MEMCOLLAB, call, call_error, import_records, memory_client, record_line, server_env, traj
from memcollab.distill.pairing import pair_task
from memcollab.distill.store_constraints import store_distilled
from memcollab.distill.validate import DistillOutput
from memcollab.store import forget as forget_module
from memcollab.store.bank import Bank, eq, sql_str
from memcollab.store.forget import forget
from memcollab.store.models import TrajectoryIn, now


HOSTILE = ["x' OR '1'='1", "'); DELETE FROM records; --", "a\\' OR 1=1 --", "x\x00' OR 'a'='a", "\u2019 OR \u20191\u2019=\u20191",
           "%' OR category LIKE '%", "\" OR \"\"=\"", "x'||'", "' UNION SELECT * --"]


C = {"when": "a linear equation is solved", "enforce": "verify by substitution", "avoid": "skipping the check"}


def _seed(bank: Bank) -> None:
    from memcollab.store.models import TrajectoryIn

    for i, (good, bad) in enumerate([("gpt-4o", "llama-3-8b"), ("gpt-4o", "qwen2.5-7b"), ("claude", "llama-3-8b")]):
        task = f"Seed task {i}: solve for x."
        ts = [TrajectoryIn(task=task, model=good, outcome="correct", final_answer="1", steps=["s"], agent="a1"),
              TrajectoryIn(task=task, model=bad, outcome="incorrect", final_answer="2", steps=["t"], agent="a2")]
        bank.add_trajectories([t.to_trajectory() for t in ts])
        pair_task(bank, ts[0].to_trajectory().task_id)
    for p in bank.pairs():
        out = DistillOutput(category="Algebra", subcategory="Linear Equations",
                            constraints=[{**C, "when": C["when"] + " " + p.unpreferred_model.split("-")[0][:1]}])
        store_distilled(bank, p, out, "d", "v")


def counts(bank: Bank) -> tuple[int, ...]:
    return tuple(bank.count(t) for t in ("trajectories", "pairs", "records"))


def test_sql_str_quotes_everything():
    assert sql_str("x' OR '1'='1") == "'x'' OR ''1''=''1'"
    with pytest.raises(TypeError):
        sql_str(1)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_match_nothing_and_delete_nothing(tmp_path, name):
    bank = Bank(tmp_path / "s")
    _seed(bank)
    before = counts(bank)
    assert bank.trajectories(eq("model", name)) == []
    assert bank.records(eq("category", name)) == []
    assert bank.get_pair(name) is None
    report = forget(bank, model=name)
    assert (report.trajectories, report.pairs, report.records) == (0, 0, 0)
    forget(bank, agent=name)
    with pytest.raises(LookupError):
        forget(bank, record_id=name)
    assert counts(bank) == before


@pytest.mark.anyio
async def test_hostile_names_through_the_tools(store):
    bank = Bank(store)
    _seed(bank)
    before = counts(bank)
    async with memory_client(store) as c:
        for name in HOSTILE:
            r = await call(c, "get_constraints", {"task": name, "category": name, "subcategory": name})
            assert r["match"] == "any"  # the hostile tag matched nothing; fell back to the whole bank
            await call(c, "forget", {"model": name})
            await call(c, "forget", {"agent": name})
            await call_error(c, "forget", {"record_id": name})
            await call_error(c, "report_feedback", {"record_ids": [name], "helped": True})
            await call_error(c, "submit_constraints", {"pair_id": name, "category": "x", "constraints": [C]})
    assert counts(bank) == before


def test_forget_a_model_removes_its_trail_and_is_remembered(tmp_path):
    bank = Bank(tmp_path / "s")
    _seed(bank)
    dry = forget(bank, model="llama-3-8b", dry_run=True)
    assert (dry.trajectories, dry.pairs, dry.records) == (2, 2, 1)  # one record was merged from both pairs
    assert counts(bank) == (6, 3, 2)
    forget(bank, model="llama-3-8b")
    assert counts(bank) == (4, 1, 1)
    assert {t.model for t in bank.trajectories()} == {"gpt-4o", "claude", "qwen2.5-7b"}
    (rec,) = bank.records()
    assert "llama-3-8b" not in rec.unpreferred_models


@pytest.mark.anyio
async def test_forgotten_trajectory_is_not_stored_again(store):
    async with memory_client(store) as c:
        t = traj("Forgettable task", "bad-model", "incorrect")
        await call(c, "submit_trajectory", traj("Forgettable task", "good-model", "correct"))
        await call(c, "submit_trajectory", t)
        assert (await call(c, "forget", {"model": "bad-model"}))["trajectories"] == 1
        msg = await call_error(c, "submit_trajectory", t)
        assert "forget" in msg
        st = await call(c, "memory_status")
    assert st["trajectories"] == 1 and st["pairs_by_status"] == {}


@pytest.mark.anyio
async def test_forget_a_record_marks_its_pairs(store):
    bank = Bank(store)
    _seed(bank)
    rid = bank.records()[0].id
    async with memory_client(store) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert tools["forget"].annotations.destructive_hint is True
        await call_error(c, "forget", {})
        r = await call(c, "forget", {"record_id": rid})
    assert r["records"] == 1 and rid not in {x.id for x in bank.records()}
    assert {p.status for p in bank.pairs() if p.last_error and "forgotten" in p.last_error} == {"skipped"}


def test_forget_cli(tmp_path):
    store = tmp_path / "s"
    import_records(Bank(store), [record_line("Geometry", "Circles", "area", ("a circle", "square the radius", "x y"))])
    rid = Bank(store).records()[0].id
    run = lambda *a: subprocess.run([MEMCOLLAB, "forget", *a], capture_output=True, text=True,  # noqa: E731
                                    env=server_env(store), timeout=60)
    assert json.loads(run("--record", rid, "--dry-run").stdout)["records"] == 1
    assert Bank(store).count("records") == 1
    assert json.loads(run("--record", rid).stdout)["records"] == 1
    assert Bank(store).count("records") == 0
    assert run().returncode == 2


def _pairs_with(bank: Bank, bad: str, n: int) -> None:
    for i in range(n):
        ts = [TrajectoryIn(**traj(f"Chunked task {i}: solve for x.", "good-model", "correct")).to_trajectory(),
              TrajectoryIn(**traj(f"Chunked task {i}: solve for x.", bad, "incorrect", answer="7")).to_trajectory()]
        bank.add_trajectories(ts)
        pair_task(bank, ts[0].task_id)


def test_every_chunk_of_a_models_trajectories_loses_its_pairs(tmp_path, monkeypatch):
    # a model with more trajectories than one `IN (...)` filter holds (CHUNK, 500): shrunk to 1 here, so
    # three trajectories take three chunks and every chunk's pairs must be collected
    monkeypatch.setattr(forget_module, "CHUNK", 1)
    bank = Bank(tmp_path / "s")
    _pairs_with(bank, "bad-model", 3)
    assert bank.count("pairs") == 3
    report = forget(bank, model="bad-model")
    assert (report.trajectories, report.pairs) == (3, 3)
    assert bank.count("pairs") == 0 and bank.count("trajectories") == 3
    assert {r["kind"] for r in bank._select("forgotten", "kind = 'pair'")} == {"pair"}
    assert bank.count("forgotten") == 3 + 3 + 1  # trajectories, pairs, the model


def test_a_tombstone_says_when_and_why(tmp_path):
    bank = Bank(tmp_path / "s")
    _pairs_with(bank, "bad-model", 1)
    before = now()
    forget(bank, model="bad-model", reason="wrong units everywhere")
    after = now()
    rows = bank._select("forgotten")
    assert len(rows) == 3
    for row in rows:
        assert row["reason"] == "wrong units everywhere"
        assert before <= row["created_at"] <= after, row


def test_forgetting_a_record_removes_its_vectors(tmp_path):
    from conftest import import_records, record_line
    from memcollab.store.embed import get_embedder
    from memcollab.store.vectors import add_record_vectors, vector_index

    embedder = get_embedder()
    bank = Bank(tmp_path / "s")
    import_records(bank, [record_line("Geometry", "Circles", f"Find the area of circle {i}.",
                                      ("a rule applies", "check the condition", "skipping the check"))
                          for i in range(2)])
    gone, kept = bank.records()
    add_record_vectors(bank, embedder, [gone, kept])
    forget(bank, record_id=gone.id)
    assert vector_index(Bank(bank.path), embedder).ids == {"vr-" + kept.id}
