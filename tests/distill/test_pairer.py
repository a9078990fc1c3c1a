"""The server writes contrast pairs just after it acknowledges a submission (distill/pairer.py): several tasks
share one pair append, its own reads settle first, and tasks left unpaired by a stopped server are paired when
a server starts and when the distiller runs. Real LanceDB in temp dirs; the LLM provider of the distiller is a
stand-in (tests/support/fake_llm.py: a local OpenAI-compatible server) reached through litellm."""

from __future__ import annotations

import json
import subprocess
import time

import anyio
import pytest

from conftest import MEMCOLLAB, call, memory_client, server_env, stdio_client, traj
from memcollab.distill import pairer as pairer_module
from memcollab.distill.pairer import Pairer
from memcollab.distill.pairing import pair_unpaired, pairs_for, store_and_pair, unpaired_tasks
from memcollab.store.bank import Bank
from memcollab.store.models import ContrastPair, TrajectoryIn
from support.fake_llm import FakeLLM, Reply


def _t(task: str, model: str, outcome: str, answer: str):
    return TrajectoryIn(**traj(task, model, outcome, answer)).to_trajectory()


def _tasks(n: int, prefix: str = "Pairer task") -> list[list]:
    """n tasks, each a correct and an incorrect trajectory from different models (one pair each)."""
    return [[_t(f"{prefix} {i}: what is {i} + {i}?", "m-good", "correct", str(2 * i)),
             _t(f"{prefix} {i}: what is {i} + {i}?", "m-bad", "incorrect", str(2 * i + 1))] for i in range(n)]


def _want(tasks: list[list]) -> set[str]:
    return {p.id for ts in tasks for p in pairs_for(ts)}


def test_queued_tasks_share_one_pair_append_and_the_answer_counts_them(bank):
    tasks = _tasks(6)
    pairer = Pairer(bank, linger=60)  # nothing is written until settle()
    before = bank.table("pairs").version
    for ts in tasks:
        (neg,) = store_and_pair(bank, [ts[1]], pairer)
        assert neg.stored and neg.pending_pairs == 0  # no correct trajectory yet
        (pos,) = store_and_pair(bank, [ts[0]], pairer)
        assert pos.pending_pairs == 1  # counted before it is written
    assert bank.count("pairs") == 0  # acknowledged, not paired yet
    assert pairer.settle(timeout=30)
    bank.table("pairs").checkout_latest()
    assert bank.table("pairs").version == before + 1  # six tasks, one append
    assert {p.id for p in bank.pairs()} == _want(tasks)
    assert pairer.pairings == 1


def test_without_settle_the_pairs_follow_within_the_linger(store):
    writer, reader = Bank(store), Bank(store)  # two handles: as another process would see it
    pairer = Pairer(writer, linger=0.05)
    tasks = _tasks(2, "Linger task")
    for ts in tasks:
        store_and_pair(writer, ts, pairer)
    deadline = time.monotonic() + 20
    while reader.count("pairs") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert {p.id for p in reader.pairs()} == _want(tasks)


def test_a_failed_pairing_stays_queued_and_is_written_later(bank, monkeypatch, caplog):
    real = pairer_module.pair_tasks
    calls = []

    def fails_once(b, ids):  # the real pairing, failing the first time (as a full disk would)
        calls.append(list(ids))
        if len(calls) == 1:
            raise OSError("No space left on device")
        return real(b, ids)

    monkeypatch.setattr(pairer_module, "pair_tasks", fails_once)
    monkeypatch.setattr(pairer_module, "RETRY_AFTER", 0.05)
    pairer = Pairer(bank, linger=0)
    tasks = _tasks(1, "Failing task")
    store_and_pair(bank, tasks[0], pairer)
    assert pairer.settle(timeout=30)
    assert len(calls) == 2 and calls[0] == calls[1]
    assert {p.id for p in bank.pairs()} == _want(tasks)
    assert "No space left on device" in caplog.text


def test_close_writes_what_is_queued_and_later_tasks_are_paired_at_once(bank):
    pairer = Pairer(bank, linger=60)
    first, later = _tasks(2, "Closing task")
    store_and_pair(bank, first, pairer)
    pairer.close()
    assert {p.id for p in bank.pairs()} == _want([first])
    store_and_pair(bank, later, pairer)  # after close: paired before it returns
    assert {p.id for p in bank.pairs()} == _want([first, later])


@pytest.mark.anyio
async def test_the_servers_own_reads_see_the_pairs_of_its_answers(store, monkeypatch):
    monkeypatch.setattr(pairer_module, "LINGER", 60)  # nothing would be written in this test but for the reads
    task = "Own reads task: how many legs has a spider?"
    other = "Own reads task: how many legs has an ant?"
    async with memory_client(store, embeddings=False) as c:
        await call(c, "submit_trajectory", traj(task, "m-good", "correct", "8"))
        r = await call(c, "submit_trajectory", traj(task, "m-bad", "incorrect", "6"))
        assert r["pending_pairs"] == 1
        contrast = await call(c, "next_contrast")
        assert contrast["pair_id"] is not None and contrast["unpreferred"]["final_answer"] == "6"
        await call(c, "submit_trajectory", traj(other, "m-good", "correct", "6"))
        await call(c, "submit_trajectory", traj(other, "m-bad", "incorrect", "8"))
        status = await call(c, "memory_status")
        assert status["pairs_by_status"] == {"pending": 2}
        third = "Own reads task: how many legs has a bird?"
        await call(c, "submit_trajectory", traj(third, "m-good", "correct", "2"))
        await call(c, "submit_trajectory", traj(third, "m-worse", "incorrect", "4"))
        report = await call(c, "forget", {"model": "m-worse"})
        assert (report["trajectories"], report["pairs"]) == (1, 1)  # its queued pair was written, then removed
    assert {p.unpreferred_model for p in Bank(store).pairs()} == {"m-bad"}


def _unpaired_store(bank: Bank) -> list[list]:
    """What a server killed between acknowledging and pairing leaves: trajectories, no pairs; and a pending
    pair whose τ+ was overtaken by a stronger correct trajectory that was never re-pointed."""
    tasks = _tasks(3, "Stopped server task")
    for ts in tasks:
        bank.add_trajectories(ts)
    task = "Overtaken task: what is 7 * 6?"
    weak, neg = _t(task, "mid", "correct", "42"), _t(task, "weak", "incorrect", "48")
    strong = _t(task, "best", "correct", "42.0")
    bank.add_trajectories([weak, neg, strong])
    bank.add_pairs([ContrastPair(id=ContrastPair.make_id(neg.task_id, neg.id), task_id=neg.task_id,
                                 preferred_id=weak.id, unpreferred_id=neg.id, preferred_model="mid",
                                 unpreferred_model="weak")])
    return [*tasks, [weak, neg, strong]]


def test_unpaired_tasks_are_found_and_paired(bank, monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_MODEL_RANKING", "best,mid")
    tasks = _unpaired_store(bank)
    assert sorted(unpaired_tasks(bank)) == sorted(ts[0].task_id for ts in tasks)
    assert pair_unpaired(bank) == 4
    assert unpaired_tasks(bank) == []
    assert {p.id for p in bank.pairs()} == _want(tasks)
    (overtaken,) = [p for p in bank.pairs() if p.unpreferred_model == "weak"]
    assert overtaken.preferred_model == "best"
    assert pair_unpaired(bank) == 0


@pytest.mark.anyio
async def test_a_starting_server_pairs_what_a_stopped_one_left(store, monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_MODEL_RANKING", "best,mid")  # the server's ranking, for the checks here
    tasks = _unpaired_store(Bank(store))
    async with stdio_client(store, MEMCOLLAB_EMBEDDINGS="off", MEMCOLLAB_MODEL_RANKING="best,mid") as c:
        deadline = time.monotonic() + 60
        while Bank(store).count("pairs") < len(_want(tasks)) and time.monotonic() < deadline:
            await anyio.sleep(0.1)
        await call(c, "memory_status")
    bank = Bank(store)
    assert {p.id for p in bank.pairs()} == _want(tasks)
    assert unpaired_tasks(bank) == []
    (overtaken,) = [p for p in bank.pairs() if p.unpreferred_model == "weak"]
    assert overtaken.preferred_model == "best"


def test_the_distiller_pairs_what_a_stopped_server_left_before_it_reads_its_work(store):
    bank = Bank(store)
    tasks = _tasks(2, "Distiller task")
    for ts in tasks:
        bank.add_trajectories(ts)
    reply = Reply(content=json.dumps({"category": "Arithmetic", "subcategory": "Addition", "constraints": [
        {"when": "adding a number to itself", "enforce": "double the number exactly",
         "avoid": "adding one more than the number"}]}))
    with FakeLLM(lambda body: reply) as llm:
        res = subprocess.run([MEMCOLLAB, "distill", "--model", "openai/stand-in", "--api-base", llm.api_base,
                              "--no-dedup-embeddings"], env=server_env(store, OPENAI_API_KEY="sk-stand-in"),
                             capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["pairs_considered"] == 2
    assert bank.count("pairs", "status = 'distilled'") == 2


def test_the_finder_ranks_by_the_same_length_as_pairing(bank):
    """Between two correct trajectories of unranked models the shorter one (characters of steps and answer) is
    τ+; the finder computes lengths in Arrow and must agree with pairing, or it would flag paired tasks."""
    task = "Length task: name the capital of France."
    fewer_chars = TrajectoryIn(task=task, model="m-accents", outcome="correct", final_answer="Paris",
                               steps=["é" * 5, "é" * 5]).to_trajectory()  # 10 characters, 20 bytes, 2 steps
    more_chars = TrajectoryIn(task=task, model="m-plain", outcome="correct", final_answer="Paris",
                              steps=["x" * 15]).to_trajectory()  # 15 characters, 15 bytes, 1 step
    neg = TrajectoryIn(task=task, model="m-bad", outcome="incorrect", final_answer="Lyon",
                       steps=["no"]).to_trajectory()
    store_and_pair(bank, [fewer_chars, more_chars, neg])
    (pair,) = bank.pairs()
    assert pair.preferred_model == "m-accents"
    assert unpaired_tasks(bank) == []
