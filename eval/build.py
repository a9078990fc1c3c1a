"""Building a bank from tasks (the paper's construction phase), used by `memcollab build` and by the memory
half of `memcollab eval`: every model solves every task with the agent loop; each trajectory goes in through
`submit_trajectory` with its verified outcome; then the store's pending pairs are distilled.

Also the `own` memory of one model (docs/build-and-eval.md): its own failed attempts
contrasted with its own later success on the same task.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import IO, Any

from memcollab.distill.llm import split_model
from memcollab.store.progress import progress

from .agent import Agent, Trajectory, model_name
from .bank_client import AGENT, BankClient
from .tasks import Task


class CallLog:
    """calls.jsonl: one line per LLM call, written as each trajectory finishes."""

    def __init__(self, path: Path | None):
        self._out: IO[str] | None = path.open("w", encoding="utf-8") if path else None
        self.calls = 0
        self.cached = 0

    def write(self, t: Trajectory, phase: str, condition: str) -> None:
        for turn, c in enumerate(t.calls, 1):
            self.calls += 1
            self.cached += c.cached
            if self._out:
                self._out.write(json.dumps({
                    "phase": phase, "condition": condition, "model": t.model, "task_id": t.task.id, "turn": turn,
                    "tokens_in": c.tokens_in, "tokens_out": c.tokens_out, "latency_s": c.latency_s,
                    "cost_usd": c.cost_usd, "cached": c.cached,
                    "correct": t.attempts[turn - 1].correct if turn <= len(t.attempts) else None}) + "\n")
        if t.failed and self._out:
            self._out.write(json.dumps({"phase": phase, "condition": condition, "model": t.model,
                                        "task_id": t.task.id, "turn": len(t.calls) + 1, "error": t.error}) + "\n")
        if self._out:
            self._out.flush()

    def close(self) -> None:
        if self._out:
            self._out.close()


def usage(trajs: list[Trajectory]) -> dict[str, Any]:
    calls = [c for t in trajs for c in t.calls]
    return {"calls": len(calls), "cached_calls": sum(c.cached for c in calls),
            "tokens_in": sum(c.tokens_in for c in calls), "tokens_out": sum(c.tokens_out for c in calls),
            "cost_usd": round(sum(c.cost_usd for c in calls), 6)}


def outcomes(trajs: list[Trajectory], models: list[str]) -> dict[str, dict[str, int]]:
    out = {model_name(m): {"correct": 0, "incorrect": 0, "failed": 0} for m in models}
    for t in trajs:
        out[t.name]["failed" if t.failed else "correct" if t.correct else "incorrect"] += 1
    return out


async def distill_store(store: str | Path, distiller: str, api_base: str | None, concurrency: int) -> dict[str, Any]:
    """Distil the store's pending pairs with the distillation module's own job (same store, in process)."""
    from memcollab.distill.run import run
    from memcollab.server.settings import Settings
    from memcollab.store.bank import Bank

    model, base = split_model(distiller, api_base)
    embedder = None
    if Settings().embeddings:  # dedup by meaning as `memcollab distill` does; MEMCOLLAB_EMBEDDINGS=off: by text
        from memcollab.store.embed import get_embedder

        embedder = get_embedder()
    bank = await asyncio.to_thread(Bank, store)
    return (await run(bank, model, base, concurrency, embedder=embedder)).as_dict()


async def solve_and_submit(agent: Agent, tasks: list[Task], models: list[str], bank: BankClient, log: CallLog,
                           phase: str = "build") -> list[Trajectory]:
    """Every model solves every task (no memory); verified trajectories go into the store over MCP."""
    with progress(f"{phase}: solve", total=len(tasks) * len(models)) as bar:
        async def one(model: str, task: Task) -> Trajectory:
            t = await agent.solve(model, task)
            log.write(t, phase, "vanilla")
            if not t.failed:
                await bank.submit(t)
            bar.advance(note=task.id)
            return t

        return list(await asyncio.gather(*(one(m, t) for t in tasks for m in models)))


async def build(agent: Agent, tasks: list[Task], models: list[str], bank: BankClient, distiller: str,
                api_base: str | None, concurrency: int, log: CallLog, phase: str = "build") -> tuple[
                    list[Trajectory], dict[str, Any]]:
    """Solve, submit over MCP, distil the bank's store; returns the trajectories and what went in."""
    trajs = await solve_and_submit(agent, tasks, models, bank, log, phase)
    distilled = await distill_store(bank.store, distiller, api_base, concurrency)
    status = await bank.status()
    return trajs, {
        "store": str(bank.store), "tasks": len(tasks), "models": [model_name(m) for m in models],
        "distiller": model_name(distiller),
        "trajectories": outcomes(trajs, models), "llm": usage(trajs),
        "bank": {"trajectories": status.get("trajectories"), "pairs": status.get("pairs_by_status", {}),
                 "records": status.get("records"), "records_by_category": status.get("records_by_category", {}),
                 "constraints": status.get("constraints_by_verdict", {}),
                 "rejection_reasons": status.get("rejection_reasons", {})},
        "distill": distilled}


def own_contrasts(trajs: list[Trajectory]) -> tuple[list[Any], list[Any]]:
    """A model's own contrast pairs: each failed attempt of a trajectory that later succeeded (the agent
    loop's revisions), against that success. Returns (trajectories, pairs) in the store's shapes. One model
    on both sides is what `own` means, so these pairs are formed here rather than by the store's pairing
    rule (which only contrasts different models)."""
    from memcollab.store.models import ContrastPair, TrajectoryIn

    out_trajs, out_pairs = [], []
    for t in trajs:
        if t.failed or not t.correct or t.turns < 2:
            continue

        def as_stored(turn: int, correct: bool) -> Any:
            a = t.attempts[turn - 1]
            return TrajectoryIn(task=t.task.text, model=t.name, final_answer=a.answer, steps=[a.reply],
                                outcome="correct" if correct else "incorrect", task_id=t.task.id, agent=AGENT,
                                category=t.task.category, subcategory=t.task.subcategory if t.task.category else None,
                                metadata={"label_source": "verifier", "turn": turn}).to_trajectory()

        pos = as_stored(t.turns, True)
        out_trajs.append(pos)
        for turn in range(1, t.turns):
            neg = as_stored(turn, False)
            out_trajs.append(neg)
            out_pairs.append(ContrastPair(id=ContrastPair.make_id(t.task.id, neg.id), task_id=t.task.id,
                                          preferred_id=pos.id, unpreferred_id=neg.id, preferred_model=t.name,
                                          unpreferred_model=t.name))
    return out_trajs, out_pairs


async def build_own(trajs: list[Trajectory], model: str, store: Path, api_base: str | None,
                    concurrency: int) -> dict[str, Any]:
    """The `own` bank of one model: its own contrasts only, distilled by the model itself."""
    from memcollab.store.bank import Bank

    stored, pairs = own_contrasts([t for t in trajs if t.model == model])

    def write() -> None:
        bank = Bank(store)
        bank.add_trajectories(stored)
        bank.add_pairs(pairs)

    await asyncio.to_thread(write)
    distilled = await distill_store(store, model, api_base, concurrency)
    bank = await asyncio.to_thread(Bank, store)
    return {"store": str(store), "pairs": len(pairs), "records": bank.count("records"),
            "constraints": dict(Counter(bank.counter("verdicts", "verdict"))), "distill": distilled}
