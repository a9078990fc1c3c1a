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

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from memcollab.store.bank import Bank, retry
from memcollab.store.cache import Brief, caches
from memcollab.store.models import ContrastPair, Trajectory


class PairQueue(Protocol):
    """Where `store_and_pair` leaves the pairing of what it stored (distill/pairer.py's Pairer)."""

    tasks: Any  # a store.task_index.TaskIndex when task matching is on, else None

    def add(self, task_ids: Sequence[str], stored: Sequence[Trajectory] = ()) -> None: ...

log = logging.getLogger("memcollab.pairing")


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


def contrasts(trajectories: Sequence[Any], ranking: list[str]) -> list[tuple[Any, Any]]:
    """(τ+, τ−) for each incorrect trajectory that has a correct one from another model (the rule above)."""
    correct = [t for t in trajectories if t.outcome == "correct"]
    out = []
    for neg in (t for t in trajectories if t.outcome == "incorrect"):
        others = [t for t in correct if t.model != neg.model]
        if others:
            out.append((choose_preferred(others, ranking), neg))
    return out


def pairs_for(trajectories: Sequence[Any], ranking: list[str] | None = None) -> list[ContrastPair]:
    """The contrast pairs a task's trajectories call for (pure: no store access). Takes `Trajectory`
    objects or anything with the same id, task_id, model, outcome, length and created_at."""
    ranking = model_ranking() if ranking is None else ranking
    return [ContrastPair(id=ContrastPair.make_id(neg.task_id, neg.id), task_id=neg.task_id, preferred_id=pos.id,
                         unpreferred_id=neg.id, preferred_model=pos.model, unpreferred_model=neg.model)
            for pos, neg in contrasts(trajectories, ranking)]


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

    with bank.location.insert_lock("pairs"):
        return retry(go, "pair tasks")


def pending_counts(bank: Bank, task_ids: Sequence[str]) -> dict[str, int]:
    """Each task's pending pair count once its pairs are in line with `pairs_for` (what `sync_pairs` returns),
    from the caches, writing nothing: the answer of a submission whose pairing is left to a `Pairer`."""
    c = caches(bank)
    ids = list(dict.fromkeys(task_ids))
    ranking = model_ranking()
    _, trajs = c.task_trajectories(ids)
    _, stored = c.task_pairs(ids)
    return {tid: sum(p.id not in stored[tid] for p in pairs_for(trajs[tid], ranking))
            + sum(p.status == "pending" for p in stored[tid].values()) for tid in ids}


def unpaired_tasks(bank: Bank) -> list[str]:
    """Tasks whose stored pairs are not what `pairs_for` calls for: a pair missing, or a pending pair whose τ+
    is no longer the strongest. A server pairs after it acknowledges (distill/pairer.py); one stopped in
    between leaves such tasks. Two table reads, the texts' lengths computed in Arrow (no text is copied into
    Python), no per-task query: 0.9-1.3 s at 100k trajectories here (a server runs it once, in its warm-up
    thread; the distiller before each run)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = bank._arrow("trajectories", ["id", "task_id", "model", "outcome", "steps", "final_answer", "created_at"])
    t = t.filter(pc.is_in(t.column("outcome"), value_set=pa.array(["correct", "incorrect"])))
    steps = t.column("steps").combine_chunks()
    lengths = np.bincount(pc.list_parent_indices(steps).to_numpy(zero_copy_only=False),
                          weights=pc.fill_null(pc.utf8_length(pc.list_flatten(steps)), 0).to_numpy(zero_copy_only=False),
                          minlength=t.num_rows)
    lengths += pc.fill_null(pc.utf8_length(t.column("final_answer")), 0).to_numpy(zero_copy_only=False)
    by_task: dict[str, list[Brief]] = {}
    cols = [t.column(n).to_pylist() for n in ("id", "task_id", "model", "outcome")]
    # the time only orders trajectories here: microseconds as ints (datetime objects cost most of this read)
    cols.append(pc.cast(t.column("created_at"), pa.int64()).to_pylist())
    for (tid_, task, model, outcome, created), length in zip(zip(*cols, strict=True), lengths.tolist(), strict=True):
        by_task.setdefault(task, []).append(Brief(tid_, task, model, outcome, int(length), created))
    # a pair's id hashes (task, τ−), and τ−'s id its task: one pair per unpreferred id
    p = bank._arrow("pairs", ["unpreferred_id", "preferred_id", "status"])
    stored = dict(zip(p.column("unpreferred_id").to_pylist(), zip(p.column("preferred_id").to_pylist(),
                                                                   p.column("status").to_pylist(), strict=True),
                      strict=True))
    ranking = model_ranking()
    out = []
    for task, briefs in by_task.items():
        for pos, neg in contrasts(briefs, ranking):
            have = stored.get(neg.id)
            if have is None or (have[1] == "pending" and have[0] != pos.id):
                out.append(task)
                break
    return out


def pair_unpaired(bank: Bank) -> int:
    """Pair the tasks `unpaired_tasks` finds; returns how many there were."""
    ids = unpaired_tasks(bank)
    if ids:
        log.info("pairing %d task(s) whose pairs were not written (a server stopped before pairing them)",
                 len(ids))
        pair_tasks(bank, ids)
    return len(ids)


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


def store_and_pair(bank: Bank, trajectories: list[Trajectory], pairer: PairQueue | None = None) -> list[Submitted]:
    """The write lane for one or more submissions: skip forgotten ones, store the new ones in one append,
    derive their tasks' pairs. Each trajectory is committed when this returns; its pairs too, unless a `pairer`
    is given: then they are left to it (written within its linger, several tasks per append) and the pending
    counts are computed from the caches. With task matching on (the pairer has a TaskIndex), a text already
    joined to another task is stored under that task, and what is new is matched by the pairer."""
    c = caches(bank)
    gone = c.tombstones()
    out = [Submitted(t, forgotten=("trajectory", t.id) in gone) for t in trajectories]
    live = [s for s in out if not s.forgotten]
    if not live:
        return out
    matching = pairer is not None and pairer.tasks is not None
    ts = [s.trajectory for s in live]
    for s, stored, t in zip(live, c.add_trajectories(ts, links=matching), ts, strict=True):
        s.stored, s.trajectory = stored, t
    task_ids = [s.trajectory.task_id for s in live]
    if pairer is None:
        pending = sync_pairs(bank, task_ids)
    else:
        pending = pending_counts(bank, task_ids)
        pairer.add(task_ids, [s.trajectory for s in live if s.stored])
    for s in live:
        s.pending_pairs = pending[s.trajectory.task_id]
    return out
