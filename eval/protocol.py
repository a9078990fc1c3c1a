"""`memcollab eval`: the paper's protocol.

1. Split the tasks by seed into a memory half and a test half.
2. Build the shared bank (DIR/bank) from the memory half: every model solves, trajectories go in over MCP,
   the distiller distils the contrasts.
3. For `own`, one bank per model (DIR/own/<model>) from that model's own memory-half attempts.
4. Every model solves the test half under each condition; test trajectories are never submitted anywhere.
5. Check that no test task is in any store (asserted), then write calls.jsonl, summary.json, report.md and
   accuracy.png into DIR.
Everything an LLM said is in DIR/cache.sqlite, so a rerun (after a crash or Ctrl-C) pays for nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memcollab.store.progress import progress

from .agent import Agent, Trajectory, model_name
from .bank_client import BankClient, open_bank
from .build import CallLog, build, build_own
from .llm import LLM, ResponseCache
from .naive import WorkedExamples
from .report import row, write_markdown, write_plot
from .tasks import Task, load_tasks

CONDITIONS = ("vanilla", "own", "naive", "memcollab")


@dataclass
class Options:
    tasks: str
    models: list[str]
    distiller: str
    out: Path
    split: float = 0.5
    seed: int = 0
    limit: int | None = None
    turns: int = 3
    conditions: tuple[str, ...] = CONDITIONS
    concurrency: int = 4
    api_base: str | None = None


def split_tasks(tasks: list[Task], fraction: float, seed: int) -> tuple[list[Task], list[Task]]:
    """(memory, test): a seeded shuffle, the first `fraction` of it is the memory half."""
    order = sorted(tasks, key=lambda t: t.id)
    random.Random(seed).shuffle(order)
    cut = round(len(order) * fraction)
    memory, test = order[:cut], order[cut:]
    assert not {t.id for t in memory} & {t.id for t in test}, "a task is in both halves"
    return memory, test


def slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model)[:80] or "model"


def test_tasks_in_banks(stores: list[Path], test: list[Task]) -> int:
    """How many test tasks any store holds, as a trajectory's task id or task text, or as a record's source."""
    from memcollab.store.bank import Bank

    ids, texts = {t.id for t in test}, {" ".join(t.text.split()) for t in test}
    found: set[str] = set()
    for store in stores:
        if not store.exists():
            continue
        bank = Bank(store)
        for t in bank.trajectories():
            if t.task_id in ids or " ".join(t.task.split()) in texts:
                found.add(t.task_id)
        for r in bank.records():
            if " ".join(r.task.split()) in texts:
                found.add(r.task)
    return len(found)


async def run_eval(o: Options) -> dict[str, Any]:
    names = [model_name(m) for m in o.models]
    if len(set(names)) < len(names):
        raise ValueError(f"two models share a name ({', '.join(names)}); results are reported by name")
    tasks, problems = load_tasks(o.tasks, o.limit, o.seed)
    if not tasks:
        raise ValueError(f"no tasks from {o.tasks!r}: {'; '.join(problems[:5]) or 'empty source'}")
    memory, test = split_tasks(tasks, o.split, o.seed)
    if not memory or not test:
        raise ValueError(f"split {o.split} of {len(tasks)} tasks leaves an empty half; use more tasks")
    shared = o.out / "bank"
    own_stores = {m: o.out / "own" / slug(model_name(m)) for m in o.models}
    stores = [shared, *own_stores.values()]
    if await asyncio.to_thread(test_tasks_in_banks, stores, test):
        raise ValueError(f"the banks in {o.out} hold tasks of this test half (a run with another --seed, --split "
                         "or task source?); give a new --out")
    o.out.mkdir(parents=True, exist_ok=True)
    cache = ResponseCache(o.out / "cache.sqlite")
    log = CallLog(o.out / "calls.jsonl")
    try:
        agent = Agent(LLM(cache, o.concurrency, o.api_base), o.turns)
        async with open_bank(shared) as bank:
            mem_trajs, bank_report = await build(agent, memory, o.models, bank, o.distiller, o.api_base,
                                                 o.concurrency, log, phase="memory")
            own_report = {}
            if "own" in o.conditions:
                for m in o.models:
                    own_report[model_name(m)] = await build_own(mem_trajs, m, own_stores[m], o.api_base, o.concurrency)
            with_own = [m for m in o.models if own_report.get(model_name(m), {}).get("records")]
            results = await _test_phase(agent, o, test, mem_trajs, bank, {m: own_stores[m] for m in with_own}, log)
    finally:
        log.close()
        cache.close()
    leaked = await asyncio.to_thread(test_tasks_in_banks, stores, test)
    assert leaked == 0, f"{leaked} test task(s) found in a bank"
    rows = [row(c, model_name(m), results[c, m]) for m in o.models for c in o.conditions]
    summary = {
        "seed": o.seed, "tasks_spec": o.tasks, "split_fraction": o.split, "turns": o.turns,
        "models": [model_name(m) for m in o.models], "distiller": model_name(o.distiller),
        "conditions": list(o.conditions),
        "tasks": {"memory": len(memory), "test": len(test)},
        "split": {"memory": [t.id for t in memory], "test": [t.id for t in test]},
        "task_problems": problems, "test_tasks_in_bank": leaked,
        "calls": {"calls": log.calls, "cached_calls": log.cached},
        "results": rows, "bank": bank_report, "own": own_report,
    }
    (o.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    write_markdown(o.out / "report.md", summary)
    write_plot(o.out / "accuracy.png", rows, list(o.conditions), summary["models"])
    return summary


async def _test_phase(agent: Agent, o: Options, test: list[Task], mem_trajs: list[Trajectory], bank: BankClient,
                      own_stores: dict[str, Path], log: CallLog) -> dict[tuple[str, str], list[Trajectory]]:
    """`own_stores`: the own banks that hold records (a model without own memory gets the vanilla prompt)."""
    examples = WorkedExamples(mem_trajs, o.models) if "naive" in o.conditions else None
    async with AsyncExitStack() as stack:
        own = {m: await stack.enter_async_context(open_bank(store)) for m, store in own_stores.items()} \
            if "own" in o.conditions else {}
        results: dict[tuple[str, str], list[Trajectory]] = {(c, m): [] for c in o.conditions for m in o.models}
        with progress("test: solve", total=len(test) * len(o.models) * len(o.conditions)) as bar:
            async def one(condition: str, model: str, task: Task) -> None:
                guidance = None
                if condition == "own" and model in own:
                    guidance = await own[model].guidance(task, model)
                elif condition == "naive":
                    guidance = examples.block(task.text, model)  # type: ignore[union-attr]
                elif condition == "memcollab":
                    guidance = await bank.guidance(task, model)
                t = await agent.solve(model, task, guidance)
                log.write(t, "test", condition)
                results[condition, model].append(t)
                bar.advance(note=f"{condition} {task.id}")

            await asyncio.gather(*(one(c, m, t) for c in o.conditions for m in o.models for t in test))
    for key in results:  # a stable order, whatever order the calls finished in
        results[key].sort(key=lambda t: t.task.id)
    return results
