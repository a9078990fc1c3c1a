"""A bank filled with known content for the dashboard tests, written through the real store functions
(submit → pairing → validate-and-store, import, feedback), plus an eval output directory."""

from __future__ import annotations

import json
from pathlib import Path

from memcollab.distill.pairing import pair_task
from memcollab.distill.store_constraints import store_distilled
from memcollab.distill.validate import DistillOutput
from memcollab.store.bank import Bank
from memcollab.store.models import Feedback, TrajectoryIn
from memcollab.store.transfer import import_jsonl

XSS = "<img src=x onerror=alert(1)>"
TASK = f"Solve for x: 3x + 5 = 20. Show the work. {XSS}"
GOOD = ("an equation is linear in one unknown", "isolate the unknown by inverse operations applied to both sides",
        "moving terms across the equals sign without changing their sign")
RECORDS = [  # (category, subcategory, task, (when, enforce, avoid))
    ("Algebra", "Linear Equations", "Find y when 4y - 2 = 10",
     ("a linear equation has constants on both sides", "collect constants before dividing",
      "dividing before the constant term is moved")),
    ("Geometry", "Circles", "Area of a circle with diameter 6",
     ("a circle is given by its diameter", "halve the diameter before squaring",
      "squaring the diameter as if it were the radius")),
    ("Number Theory", "Primes", f"Count primes below 30 {XSS}",
     ("counting primes in a range", "test divisibility only up to the square root",
      f"counting 1 as a prime {XSS}")),
]


def fill(bank: Bank) -> dict[str, str]:
    """Returns the ids the tests look for."""
    ids: dict[str, str] = {}
    trajs = [TrajectoryIn(task=TASK, model="gpt-4o", outcome="correct", final_answer="x = 5",
                          steps=["subtract 5 from both sides: 3x = 15", "divide by 3: x = 5"],
                          category="Algebra", subcategory="Linear Equations").to_trajectory(),
             TrajectoryIn(task=TASK, model="llama-3-8b", outcome="incorrect", final_answer=f"x = 25/3 {XSS}",
                          steps=["add 5 to both sides: 3x = 25", "x = 25/3"],
                          category="Algebra", subcategory="Linear Equations").to_trajectory()]
    bank.add_trajectories(trajs)
    ids["task_id"] = trajs[0].task_id
    pair_task(bank, trajs[0].task_id)
    (pair,) = bank.pairs()
    ids["pair_id"] = pair.id
    output = DistillOutput(category="Algebra", subcategory="Linear Equations", constraints=[
        {"when": GOOD[0], "enforce": GOOD[1], "avoid": GOOD[2]},
        {"when": "the equation is 3x + 5 = 20", "enforce": "x = 5", "avoid": "x = 25/3"},  # copies the task
    ])
    res = store_distilled(bank, pair, output, "stand-in-distiller", "contrast-v1")
    assert res.stored == 1 and res.rejected == 1, res
    ids["distilled"] = res.record_id or ""
    lines = [json.dumps({"type": "record", "category": c, "subcategory": s, "task": t,
                         "constraints": [{"when": w, "enforce": e, "avoid": a}]})
             for c, s, t, (w, e, a) in RECORDS]
    report = import_jsonl(bank, lines, progress=lambda _m: None)
    assert not report["errors"], report["errors"]
    for rec in bank.records():
        if rec.id != ids["distilled"]:
            ids[rec.category] = rec.id  # one imported record per category
    ids["xss_record"] = ids["Number Theory"]
    bank.add_feedback([Feedback(id="f-1", record_id=ids["distilled"], helped=True, model="qwen2.5-7b"),
                       Feedback(id="f-2", record_id=ids["distilled"], helped=True, model="claude-sonnet"),
                       Feedback(id="f-3", record_id=ids["Geometry"], helped=False, model="qwen2.5-7b")])
    return ids


def eval_dir(path: Path) -> Path:
    """An output directory shaped like `memcollab eval`'s: summary.json, report.md, accuracy.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.mkdir(parents=True, exist_ok=True)
    results = [
        {"condition": "no_memory", "model": "qwen2.5-7b", "n": 40, "accuracy": 0.525, "accuracy_turn1": 0.45,
         "mean_turns": 2.7, "tokens_in": 51234, "tokens_out": 20480, "cost_usd": 0.0123},
        {"condition": "memcollab", "model": "qwen2.5-7b", "n": 40, "accuracy": 0.675, "accuracy_turn1": 0.6,
         "mean_turns": 2.2, "tokens_in": 60321, "tokens_out": 18000, "cost_usd": 0.0141},
    ]
    (path / "summary.json").write_text(json.dumps({"seed": 7, "tasks": {"memory": 100, "test": 40},
                                                   "results": results}), encoding="utf-8")
    (path / "report.md").write_text(
        f"# Evaluation\n\n| condition | accuracy |\n|---|---|\n| no_memory | 0.525 |\n| memcollab | 0.675 |\n\n"
        f"Raw HTML stays text: {XSS}\n", encoding="utf-8")
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.bar(["no_memory", "memcollab"], [0.525, 0.675])
    ax.set_ylabel("accuracy")
    fig.tight_layout()
    fig.savefig(path / "accuracy.png")
    plt.close(fig)
    return path
