"""A distillation killed at the worst moment — its record stored, its pair not yet marked — and run again
stores no second record for that pair, even when the rerun's distiller words its constraints differently."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import server_env
from memcollab.distill.pairing import pair_task
from memcollab.distill.store_constraints import store_distilled
from memcollab.distill.validate import DistillOutput
from memcollab.store.bank import Bank
from memcollab.store.models import TrajectoryIn

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
