"""Proof of task-aware retrieval on real task sets (bench/tasksets.py): a bank of records from one split,
queried with held-out tasks. Prints precision@3 (share of returned records from the query's true category)
and classification accuracy for: caller-tagged; server-classified; plain embedding top-3 over all records
(ReasoningBank-style); global BM25 top-3. Then get_constraints p50 over stdio with and without
classification. Targets: caller-tagged >= 0.95; server-classified >= 0.85 and >= 0.15 above plain embedding.

    python bench/bench_retrieval.py [--per-family 40] [--no-stdio]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch import scratch_dir  # noqa: E402
import tasksets  # noqa: E402

from memcollab.store.bank import Bank  # noqa: E402
from memcollab.store.embed import get_embedder  # noqa: E402
from memcollab.store.retrieve import query_terms, retrieve  # noqa: E402
from memcollab.store.transfer import import_jsonl  # noqa: E402
from memcollab.store.vectors import backfill, nearest  # noqa: E402


def build(store: Path, per_family: int, families: list[str] | None = None) -> tuple[Bank, list[tasksets.Task]]:
    train, test = tasksets.split(tasksets.load(per_family, families=families))
    bank = Bank(store)
    report = import_jsonl(bank, tasksets.record_lines(train), progress=lambda _m: None)
    assert not report["errors"], report["errors"][:3]
    backfill(bank, get_embedder())
    return bank, test


def evaluate(bank: Bank, test: list[tasksets.Task]) -> dict[str, dict[str, float]]:
    emb = get_embedder()
    res: dict[str, list[tuple[float, bool]]] = {"caller-tagged": [], "server-classified": [],
                                                "plain embedding top-3": [], "global BM25 top-3": []}

    def prec(cats: list[str], truth: str) -> float:
        return sum(c == truth for c in cats) / 3

    for t in test:
        r = retrieve(bank, t.text, t.category, None, 3)
        res["caller-tagged"].append((prec([x.category for x in r.records], t.category), True))
        r = retrieve(bank, t.text, None, None, 3, "bm25", emb, None)
        res["server-classified"].append((prec([x.category for x in r.records], t.category), r.category == t.category))
        hits = nearest(bank, emb, emb.encode([t.text])[0], 3, kind="record")
        cats = [row["category"] for row, _ in hits]
        res["plain embedding top-3"].append((prec(cats, t.category), bool(cats) and cats[0] == t.category))
        hits = bank.search_records(query_terms(t.text), None, 3)
        cats = [r.category for r, _ in hits]
        res["global BM25 top-3"].append((prec(cats, t.category), bool(cats) and cats[0] == t.category))
    return {k: {"precision@3": statistics.mean(p for p, _ in v), "classification": statistics.mean(c for _, c in v)}
            for k, v in res.items()}


def stdio_latency(store: Path, test: list[tasksets.Task], n: int = 60) -> dict[str, float]:
    import anyio
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    exe = str(Path(sys.executable).parent / "memcollab")
    env = {**os.environ, "MEMCOLLAB_STORE": str(store)}
    out: dict[str, float] = {}

    async def go() -> None:
        async with Client(StdioServerParameters(command=exe, args=["serve"], env=env), mode="legacy") as c:
            await c.call_tool("get_constraints", {"task": "warm up"})  # waits for the model once
            for label, tagged in (("tagged (no classification)", True), ("untagged (server classifies)", False)):
                times = []
                for t in (test * 3)[:n]:
                    args = {"task": t.text, **({"category": t.category} if tagged else {})}
                    t0 = time.perf_counter()
                    r = await c.call_tool("get_constraints", args)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert not r.is_error, r.content
                times.sort()
                out[label] = times[len(times) // 2]

    anyio.run(go)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-family", type=int, default=40)
    ap.add_argument("--no-stdio", action="store_true")
    args = ap.parse_args()
    for name, families in (("distinct families", tasksets.FAMILIES), ("confusable arithmetic families",
                                                                    tasksets.CONFUSABLE)):
        store = scratch_dir("memcollab-retrieval-") / "store"
        bank, test = build(store, args.per_family, families)
        print(f"\n== {name}: HumanEval + {len(families)} reasoning-gym families; {bank.count('records')} records "
              f"in {len(set(t.category for t in test))} categories; {len(test)} held-out queries")
        results = evaluate(bank, test)
        print(f"{'method':<24}{'precision@3':>12}{'classification':>16}")
        for k, v in results.items():
            print(f"{k:<24}{v['precision@3']:>12.3f}{v['classification']:>16.3f}")
        gap = results["server-classified"]["precision@3"] - results["plain embedding top-3"]["precision@3"]
        print(f"server-classified minus plain embedding: {gap:+.3f}")
    if not args.no_stdio:
        for label, ms in stdio_latency(store, test).items():
            print(f"get_constraints p50 over stdio, {label}: {ms:.1f} ms")


if __name__ == "__main__":
    main()
