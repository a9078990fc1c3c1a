"""Which trajectories contrast with which (METHOD.md step 2), and the write lane that stores them.

The rule, in one place:
- a pair is (τ+, τ−) on one task: τ+ correct, τ− incorrect, from *different models*;
- one pair per incorrect trajectory τ−, so with several agents one τ+ is contrasted with each τ−;
- τ+ is the strongest correct model by the configured ranking (`MEMCOLLAB_MODEL_RANKING`, a comma
  separated list, strongest first; unlisted models rank after listed ones), then the shorter trajectory,
  then the earlier submission;
- an incorrect trajectory with no correct one from another model yet gets no pair: it is kept and paired
  when such a trajectory arrives;
- when a stronger correct trajectory arrives after a pair exists, a still *pending* pair is re-pointed to it;
  a pair already distilled (or failed, or skipped) stays as it was;
- pair ids hash (task_id, τ− id), so deriving pairs again — from any process — never duplicates one.

The write lane (`store_and_pair`): tombstone and id checks from the per-process caches (store/cache.py),
one append for the trajectories, pairing from the tasks' cached trajectories, a pair append only when a pair
forms. Several submissions can go through it together (the server's group commit) and share the appends.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from memcollab.store.bank import Bank, retry
from memcollab.store.cache import caches
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


def choose_preferred(candidates: Sequence[Any], ranking: list[str]) -> Any:
    return min(candidates, key=lambda t: (_strength(t.model, ranking), t.length, t.created_at, t.id))


def pairs_for(trajectories: Sequence[Any], ranking: list[str] | None = None) -> list[ContrastPair]:
    """The contrast pairs a task's trajectories call for (pure: no store access). Takes `Trajectory`
    objects or anything with the same id, task_id, model, outcome, length and created_at."""
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


def sync_pairs(bank: Bank, task_ids: Sequence[str]) -> dict[str, int]:
    """Bring the tasks' stored pairs in line with `pairs_for`: append the missing ones, re-point pending ones
    whose τ+ is no longer the strongest. Returns each task's pending pair count. Holds the pairs insert lock
    (the one `Bank._insert` holds), and reads the tasks' trajectories inside it, so of two processes pairing
    one task at once the later one sees both processes' trajectories."""
    c = caches(bank)
    ids = list(dict.fromkeys(task_ids))
    ranking = model_ranking()

    def go() -> dict[str, int]:
        _, trajs = c.task_trajectories(ids)
        _, stored = c.task_pairs(ids)
        want = [p for tid in ids for p in pairs_for(trajs[tid], ranking)]
        current = c.add_pairs([p for p in want if p.id not in stored[p.task_id]], check=False)
        repoint: dict[tuple[str, str], list[str]] = {}
        for p in want:
            old = stored[p.task_id].get(p.id)
            if old is not None and old.status == "pending" and old.preferred_id != p.preferred_id:
                repoint.setdefault((p.preferred_id, p.preferred_model), []).append(p.id)
        for (pid, model), pair_ids in repoint.items():
            c.repoint_pairs(pair_ids, pid, model)
        _, stored = c.task_pairs(ids, check=bool(repoint) or not current)
        return {tid: sum(p.status == "pending" for p in stored[tid].values()) for tid in ids}

    with bank._lock, bank.location.insert_lock("pairs"):
        return retry(go, "pair tasks")


def pair_task(bank: Bank, task_id: str) -> int:
    """Derive and store the task's contrast pairs; returns how many pairs are pending for the task."""
    return sync_pairs(bank, [task_id])[task_id]


def pair_tasks(bank: Bank, task_ids: list[str]) -> int:
    """Derive pairs for many tasks at once (after an import), 500 tasks per read; returns pending pairs."""
    ids = list(dict.fromkeys(task_ids))
    return sum(sum(sync_pairs(bank, ids[i:i + 500]).values()) for i in range(0, len(ids), 500))


@dataclass
class Submitted:
    trajectory: Trajectory
    stored: bool = False
    pending_pairs: int = 0
    forgotten: bool = False


def store_and_pair(bank: Bank, trajectories: list[Trajectory]) -> list[Submitted]:
    """The write lane for one or more submissions: skip forgotten ones, store the new ones in one append,
    derive their tasks' pairs. Each result is committed when this returns."""
    c = caches(bank)
    gone = c.tombstones()
    out = [Submitted(t, forgotten=("trajectory", t.id) in gone) for t in trajectories]
    live = [s for s in out if not s.forgotten]
    if not live:
        return out
    for s, stored in zip(live, c.add_trajectories([s.trajectory for s in live]), strict=True):
        s.stored = stored
    pending = sync_pairs(bank, [s.trajectory.task_id for s in live])
    for s in live:
        s.pending_pairs = pending[s.trajectory.task_id]
    return out
