"""Eval harness costs, with the stand-in provider (tests/support/fake_llm.py) answering instantly.

1. Harness overhead per solved task, excluding model time and verification: `Agent.solve` (prompt, cached
   and retried LLM call with its sqlite write, bookkeeping) minus the verifier's time, against the floor: a
   bare `litellm.acompletion` to the same stand-in, measured in the same run. Target: ≤ 20% over the floor.
2. A `get_constraints` over MCP stdio (what the memcollab condition adds per task), against the same floor.
3. Verifier time per HumanEval task (the canonical solution run against the task's tests in the limited
   child process).
4. Wall time of a whole `memcollab eval` (the real CLI): TASKS tasks × 2 models × 4 conditions.

    python bench/bench_eval.py [--quick]      # --quick: 40 calls, 10 tasks; default 150 calls, 100 tasks

The stand-in plays the e2e test's scripted models: a strong one that answers with the canonical solution and
a weak one that needs the distilled constraint (tests/e2e/test_eval_e2e.py), so the whole eval has revisions,
contrast pairs and distillation in it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENAI_API_KEY", "sk-stand-in")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))  # test_eval_e2e's scripted models

from scratch import scratch_dir  # noqa: E402
from support.fake_llm import FakeLLM  # noqa: E402
from test_eval_e2e import STRONG, WEAK, script  # noqa: E402  (the e2e test's scripted models)

from memcollab.eval import agent as agent_mod  # noqa: E402
from memcollab.eval.agent import Agent, first_messages  # noqa: E402
from memcollab.eval.llm import LLM, ResponseCache  # noqa: E402
from memcollab.eval.tasks import humaneval_canonical, load_tasks  # noqa: E402
from memcollab.eval.verify import verify  # noqa: E402


async def bare_calls(api_base: str, tasks: list, n: int) -> float:
    """The floor: litellm alone, the same first prompt the agent sends, the same stand-in answer."""
    import litellm

    litellm.suppress_debug_info = True
    times = []
    for i in range(n):
        t = time.perf_counter()
        await litellm.acompletion(model=STRONG, messages=first_messages(tasks[i], None), api_base=api_base,
                                  temperature=0, num_retries=0, max_retries=0)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


async def interleaved(api_base: str, tasks: list, n: int, cache_dir: Path) -> dict[str, float]:
    """Medians (s) of three arms per task, in rotating order so load drift on a shared machine hits all
    alike: `floor` a bare litellm call with the agent's first prompt and the same parameters; `ask` the eval
    LLM layer (cache lookup, retry wrapper, cost, sqlite write; a cache miss); `solve` a one-turn
    `Agent.solve` (a miss too) minus the verifier's own time measured inside its worker thread (`verify`)."""
    import litellm

    litellm.suppress_debug_info = True
    verify_times: list[float] = []

    def timed_verify(task, completion, timeout=10.0):  # noqa: ANN001, ANN202
        t = time.perf_counter()
        v = verify(task, completion, timeout)
        verify_times.append(time.perf_counter() - t)
        return v

    agent_mod.verify = timed_verify
    llm = LLM(ResponseCache(cache_dir / "ask.sqlite"), concurrency=1, api_base=api_base)
    agent = Agent(LLM(ResponseCache(cache_dir / "solve.sqlite"), concurrency=1, api_base=api_base), turns=1)
    times: dict[str, list[float]] = {"floor": [], "ask": [], "solve": []}
    cpu: dict[str, list[float]] = {"floor": [], "ask": [], "solve": []}
    for i in range(n):
        task = tasks[i]

        async def floor() -> None:
            t = time.perf_counter()
            await litellm.acompletion(model=STRONG, messages=first_messages(task, None), api_base=api_base,
                                      temperature=0, num_retries=0, max_retries=0, timeout=120)
            times["floor"].append(time.perf_counter() - t)

        async def ask() -> None:
            t = time.perf_counter()
            a = await llm.ask(STRONG, first_messages(task, None))
            times["ask"].append(time.perf_counter() - t)
            assert not a.call.cached

        async def solve() -> None:
            before = len(verify_times)
            t = time.perf_counter()
            traj = await agent.solve(STRONG, task)
            total = time.perf_counter() - t
            assert traj.correct and not traj.calls[0].cached, traj.attempts
            times["solve"].append(total - sum(verify_times[before:]))

        arms = [floor, ask, solve]
        for k in range(3):
            arm = arms[(i + k) % 3]
            c = time.process_time()
            await arm()
            cpu[arm.__name__].append(time.process_time() - c)
    out = {k: statistics.median(v) for k, v in times.items()}
    out.update({f"cpu_{k}": statistics.mean(v) for k, v in cpu.items()})
    out["verify"] = statistics.median(verify_times)
    return out


async def mcp_get_constraints(n: int) -> float:
    from memcollab.eval.bank_client import open_bank

    tasks, _ = load_tasks("humaneval", 5)
    store = scratch_dir() / "store"
    async with open_bank(store) as bank:
        await bank.guidance(tasks[0], "m")  # warm the server (store open, indexes)
        times = []
        for i in range(n):
            t = time.perf_counter()
            await bank.guidance(tasks[i % len(tasks)], "m")
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def whole_eval(api_base: str, n_tasks: int, out: Path) -> tuple[float, dict]:
    env = {**os.environ, "MEMCOLLAB_EMBEDDINGS": "off"}
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "memcollab.server.cli", "eval", "--tasks", "humaneval", "--limit",
                        str(n_tasks), "--models", f"{STRONG},{WEAK}", "--distiller", STRONG,
                        "--out", str(out), "--api-base", api_base, "--concurrency", "8"],
                       env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"eval failed: {r.stderr[-2000:]}")
    return took, json.loads(r.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    calls, n_tasks = (40, 10) if a.quick else (150, 100)
    tasks, _ = load_tasks("humaneval")
    with FakeLLM(script) as fake, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bare_calls(fake.api_base, tasks, 5))  # warm litellm and the stand-in
        m = asyncio.run(interleaved(fake.api_base, tasks, calls, Path(tmp)))
        floor, ask, harness, verify_t = m["floor"], m["ask"], m["solve"], m["verify"]
        mcp = asyncio.run(mcp_get_constraints(calls))
        verify_all = []
        for task in tasks[: max(20, n_tasks)]:
            t = time.perf_counter()
            v = verify(task, f"```python\n{task.text}{humaneval_canonical(task)}\n```")
            verify_all.append(time.perf_counter() - t)
            assert v.correct, (task.id, v.feedback)
        wall, summary = whole_eval(fake.api_base, n_tasks, Path(tmp) / "run")
    solves_done = summary["calls"]["calls"]
    print(f"floor: bare litellm call to the stand-in          {1000 * floor:8.2f} ms (median of {calls}, "
          "the agent's first prompt)")
    print(f"LLM layer (cache, retries, cost, sqlite write)    {1000 * ask:8.2f} ms  "
          f"→ {100 * (ask - floor) / floor:+.1f}% over the floor")
    print(f"harness per solved task, excl. model + verifier   {1000 * harness:8.2f} ms  "
          f"→ {100 * (harness - floor) / floor:+.1f}% over the floor (target ≤ +20%)")
    print(f"CPU in this process (stand-in included), mean: floor {1000 * m['cpu_floor']:.2f} ms, LLM layer "
          f"{1000 * m['cpu_ask']:.2f} ms ({100 * (m['cpu_ask'] - m['cpu_floor']) / m['cpu_floor']:+.1f}%), solve "
          f"{1000 * m['cpu_solve']:.2f} ms ({100 * (m['cpu_solve'] - m['cpu_floor']) / m['cpu_floor']:+.1f}%; "
          "the verifier's child process not included)")
    print(f"get_constraints over MCP stdio (memcollab cond.)  {1000 * mcp:8.2f} ms  = {mcp / floor:.2f}× the floor")
    print(f"verifier per HumanEval task (canonical, {len(verify_all)} tasks) "
          f"{1000 * statistics.median(verify_all):8.1f} ms "
          f"median, {1000 * max(verify_all):.1f} ms max  = {statistics.median(verify_all) / floor:.1f}× the floor")
    print(f"  (in the agent loop: {1000 * verify_t:.1f} ms median)")
    print(f"whole eval: {n_tasks} tasks × 2 models × 4 conditions: {wall:.1f} s wall "
          f"({solves_done} agent calls; {wall / max(solves_done, 1) * 1000:.0f} ms per call, all phases, "
          f"process start included)")


if __name__ == "__main__":
    main()
