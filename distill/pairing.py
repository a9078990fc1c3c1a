"""Which trajectories contrast with which (METHOD.md step 2).

The rule, in one place:
- a pair is (τ+, τ−) on one task: τ+ correct, τ− incorrect, from *different models*;
- one pair per incorrect trajectory τ−, so with several agents one τ+ is contrasted with each τ−;
- τ+ is the strongest correct model by the configured ranking (`MEMCOLLAB_MODEL_RANKING`, a comma
  separated list, strongest first; unlisted models rank after listed ones), then the shorter trajectory,
  then the earlier submission;
- an incorrect trajectory with no correct one from another model yet gets no pair: it is kept and paired
  when such a trajectory arrives;
- pair ids hash (task_id, τ− id), so deriving pairs again — from any process — never duplicates one.
"""

from __future__ import annotations

import os

from memcollab.store.bank import Bank, eq, is_in
from memcollab.store.models import ContrastPair, Trajectory


def model_ranking() -> list[str]:
    raw = os.environ.get("MEMCOLLAB_MODEL_RANKING", "")
    return [m.strip().lower() for m in raw.split(",") if m.strip()]


def _strength(model: str, ranking: list[str]) -> int:
    m = model.lower()
    for i, name in enumerate(ranking):
        if m == name or m.startswith(name):
            return i
    return len(ranking)


def choose_preferred(candidates: list[Trajectory], ranking: list[str]) -> Trajectory:
    return min(candidates, key=lambda t: (_strength(t.model, ranking), t.length, t.created_at, t.id))


def pairs_for(trajectories: list[Trajectory], ranking: list[str] | None = None) -> list[ContrastPair]:
    """The contrast pairs a task's trajectories call for (pure: no store access)."""
    ranking = model_ranking() if ranking is None else ranking
    correct = [t for t in trajectories if t.outcome == "correct"]
    out: list[ContrastPair] = []
    for neg in (t for t in trajectories if t.outcome == "incorrect"):
        others = [t for t in correct if t.model != neg.model]
        if not others:
            continue
        pos = choose_preferred(others, ranking)
        out.append(ContrastPair(
            id=ContrastPair.make_id(neg.task_id, neg.id), task_id=neg.task_id, preferred_id=pos.id,
            unpreferred_id=neg.id, preferred_model=pos.model, unpreferred_model=neg.model))
    return out


def pair_task(bank: Bank, task_id: str) -> int:
    """Derive and store the task's contrast pairs; returns how many pairs are pending for the task."""
    bank.add_pairs(pairs_for(bank.trajectories_for_task(task_id)))
    return bank.count("pairs", f"{eq('task_id', task_id)} AND status = 'pending'")


def pair_tasks(bank: Bank, task_ids: list[str]) -> int:
    """Derive pairs for many tasks at once (after an import): one read per 500 tasks, one write in all."""
    ids = list(dict.fromkeys(task_ids))
    pairs = []
    for i in range(0, len(ids), 500):
        by_task: dict[str, list[Trajectory]] = {}
        for t in bank.trajectories(is_in("task_id", ids[i:i + 500])):
            by_task.setdefault(t.task_id, []).append(t)
        for ts in by_task.values():
            pairs += pairs_for(ts)
    return bank.add_pairs(pairs)
