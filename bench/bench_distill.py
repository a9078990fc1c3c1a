"""Distillation framework overhead per pair, with the stand-in provider answering instantly, at concurrency
1 and 8; and proof that N calls in flight overlap (a 200 ms stand-in delay, 8 pairs at concurrency 8).

The floor is the bare litellm round trip to the same stand-in (no memcollab), measured in the same run.

    python bench/bench_distill.py [--pairs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENAI_API_KEY", "sk-stand-in")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from scratch import scratch_dir  # noqa: E402
from support.fake_llm import FakeLLM, Reply  # noqa: E402

from memcollab.distill.pairing import pair_task  # noqa: E402
from memcollab.distill.run import run  # noqa: E402
from memcollab.store.bank import Bank  # noqa: E402
from memcollab.store.models import TrajectoryIn  # noqa: E402


def reply(i: int) -> str:
    return json.dumps({"category": "Algebra", "subcategory": "Linear Equations", "constraints": [
        {"when": "isolating an unknown", "enforce": "apply inverse operations to both sides",
         "avoid": "sign errors when moving terms"}]})


def seeded_bank(n: int) -> Bank:
    bank = Bank(scratch_dir())
    ts = []
    for i in range(n):
        task = f"Bench task {i}: solve for x."
        ts += [TrajectoryIn(task=task, model="a", outcome="correct", final_answer="1", steps=["s"]).to_trajectory(),
               TrajectoryIn(task=task, model="b", outcome="incorrect", final_answer="2", steps=["t"]).to_trajectory()]
    bank.add_trajectories(ts)
    for t in ts[::2]:
        pair_task(bank, t.task_id)
    return bank


async def floor(api_base: str, n: int) -> float:
    import litellm

    litellm.suppress_debug_info = True
    t0 = time.perf_counter()
    for _ in range(n):
        await litellm.acompletion(model="openai/stand-in", api_base=api_base, num_retries=0,
                                  messages=[{"role": "user", "content": "x"}])
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=100)
    n = ap.parse_args().pairs
    with FakeLLM(lambda body: reply(0)) as llm:
        per_call = asyncio.run(floor(llm.api_base, 50))
        rows = []
        for conc in (1, 8):
            bank = seeded_bank(n)
            t0 = time.perf_counter()
            s = asyncio.run(run(bank, "openai/stand-in", llm.api_base, concurrency=conc, taxonomy_text="t",
                                progress=io.StringIO()))
            dt = time.perf_counter() - t0
            assert s.pairs_distilled == n, s
            rows.append((conc, dt / n * 1000))
    with FakeLLM(lambda body: Reply(content=reply(0), delay=0.2)) as llm:
        bank = seeded_bank(8)
        t0 = time.perf_counter()
        asyncio.run(run(bank, "openai/stand-in", llm.api_base, concurrency=8, taxonomy_text="t",
                        progress=io.StringIO()))
        overlap = time.perf_counter() - t0
    print(f"floor: bare litellm call to the instant stand-in: {per_call * 1000:.1f} ms")
    for conc, ms in rows:
        print(f"concurrency {conc}: {ms:.1f} ms per pair in all; framework overhead over the floor "
              f"{ms - per_call * 1000:.1f} ms ({ms / (per_call * 1000):.2f}x the floor)")
    print(f"8 pairs, 200 ms stand-in delay, concurrency 8: {overlap:.2f} s (serial would be >= 1.6 s)")


if __name__ == "__main__":
    main()
