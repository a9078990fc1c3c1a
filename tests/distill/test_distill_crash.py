"""A distillation killed mid-run, run again: nothing twice, nothing lost.

A distillation killed at the worst moment — its record stored, its pair not yet marked — and run again
stores no second record for that pair, even when the rerun's distiller words its constraints differently.

`memcollab distill` killed mid-run resumes without duplicates. The LLM provider is a stand-in
(tests/support/fake_llm.py: a local OpenAI-compatible server) reached through litellm."""

from __future__ import annotations

import json
import os
import signal
import string
import subprocess
import sys
import time

from conftest import MEMCOLLAB, server_env
from memcollab.distill.pairing import pair_task
from memcollab.distill.store_constraints import store_distilled
from memcollab.distill.validate import DistillOutput
from memcollab.store.bank import Bank
from memcollab.store.models import TrajectoryIn
from support.fake_llm import FakeLLM, Reply, last_user_message


FIRST = {"category": "Geometry", "subcategory": "Circles", "constraints": [
    {"when": "a circle is described by its diameter", "enforce": "halve it before squaring",
     "avoid": "squaring the diameter as if it were the radius"}]}


RERUN = {"category": "Geometry", "subcategory": "Circles", "constraints": [
    {"when": "only the diameter of a circle is known", "enforce": "take half of it as the radius first",
     "avoid": "using the full diameter in the area formula"}]}


# The child stores the distillation and is SIGKILLed by its own hand at the moment it would mark the pair.
CHILD = """
import json, os, signal, sys
from memcollab.distill.store_constraints import store_distilled
from memcollab.distill.validate import DistillOutput
from memcollab.store.bank import Bank

bank = Bank(sys.argv[1])
pair = bank.get_pair(sys.argv[2])
Bank.set_pair = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
store_distilled(bank, pair, DistillOutput(**json.loads(sys.argv[3])), "first-distiller", "v1")
print("not killed")
"""


def test_killed_between_record_and_pair_mark_then_rerun_adds_no_duplicate(tmp_path):
    store = tmp_path / "s"
    bank = Bank(store)
    task = "A circle has diameter d. What is its area?"
    a = TrajectoryIn(task=task, model="m1", outcome="correct", final_answer="pi d^2 / 4").to_trajectory()
    b = TrajectoryIn(task=task, model="m2", outcome="incorrect", final_answer="pi d^2").to_trajectory()
    bank.add_trajectories([a, b])
    pair_task(bank, a.task_id)
    (pair,) = bank.pairs()
    child = subprocess.run([sys.executable, "-c", CHILD, str(store), pair.id, json.dumps(FIRST)],
                           env=server_env(store), capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr
    (record,) = bank.records()
    assert bank.get_pair(pair.id).status == "pending"  # the crash point: stored, not marked

    res = store_distilled(bank, bank.get_pair(pair.id), DistillOutput(**RERUN), "second-distiller", "v1")
    assert bank.count("records") == 1 and bank.records()[0].id == record.id
    after = bank.get_pair(pair.id)
    assert after.status == "distilled" and after.record_ids == [record.id] and res.record_id == record.id
    assert bank.records()[0].support == 1


WORDS = [a + b for a in string.ascii_lowercase for b in string.ascii_lowercase][:24]


def _reply(body: dict) -> Reply:
    word = next(w for w in WORDS if f"topic {w} " in last_user_message(body))
    return Reply(delay=0.4, content=json.dumps({"category": "Geometry", "subcategory": "Circles", "constraints": [
        {"when": f"a circle problem about {word} shapes", "enforce": f"keep {word} radius and diameter apart",
         "avoid": f"mixing {word} radius with diameter"}]}))


def test_killed_distill_resumes_without_duplicates(tmp_path):
    store = tmp_path / "s"
    bank = Bank(store)
    for w in WORDS:
        task = f"Circle task on topic {w} : find the area."
        a = TrajectoryIn(task=task, model="m1", outcome="correct", final_answer="pi", steps=["ok"]).to_trajectory()
        b = TrajectoryIn(task=task, model="m2", outcome="incorrect", final_answer="2pi", steps=["no"]).to_trajectory()
        bank.add_trajectories([a, b])
        pair_task(bank, a.task_id)
    env = server_env(store, OPENAI_API_KEY="sk-stand-in")
    with FakeLLM(_reply) as llm:
        cmd = [MEMCOLLAB, "distill", "--model", "openai/stand-in", "--api-base", llm.api_base,
               "--concurrency", "2", "--no-dedup-embeddings"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while bank.count("pairs", "status = 'distilled'") < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        done_before = bank.count("pairs", "status = 'distilled'")
        assert 0 < done_before < len(WORDS), "the kill must land mid-run"
        calls_before = llm.calls
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["pairs_considered"] == len(WORDS) - done_before
    assert llm.calls - calls_before == len(WORDS) - done_before  # finished pairs are not asked again
    assert f"distill: {len(WORDS) - done_before}/{len(WORDS) - done_before} done" in res.stderr  # progress: stderr
    assert bank.count("pairs", "status = 'distilled'") == len(WORDS)
    ids = bank.table("records").to_arrow().column("id").to_pylist()
    assert len(ids) == len(set(ids)) == len(WORDS)
    for p in bank.pairs():
        assert len(p.record_ids) == 1
