"""Long use: N single submit_trajectory calls through stdio (real `memcollab serve`), then get_constraints p50
and the store's size and file count on disk — with automatic maintenance (the default) and without
(MEMCOLLAB_AUTO_MAINTAIN=0), in the same run. The floor is the no-maintenance store.

    python bench/bench_maintain.py [--submits 5000] [--table-rows 100000]

It first times one maintenance run after 100 single submits to a bank of --table-rows trajectories, against
LanceDB's own optimize() on a copy (which rewrote every fragment under a million rows: the whole table).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_dir  # noqa: E402
from bench_server import fill, pct  # noqa: E402

from memcollab.store.maintain import AUTO_EVERY  # noqa: E402

EXE = str(Path(sys.executable).parent / "memcollab")


def disk(store: Path) -> tuple[float, int]:
    files = [p for p in store.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6, len(files)


async def run(store: Path, submits: int, auto: str) -> dict[str, float]:
    env = {**os.environ, "MEMCOLLAB_STORE": str(store), "MEMCOLLAB_EMBEDDINGS": "off", "MEMCOLLAB_AUTO_MAINTAIN": auto}
    async with Client(StdioServerParameters(command=EXE, args=["serve"], env=env), mode="legacy") as c:
        t0 = time.perf_counter()
        stamps = []
        for i in range(submits):
            r = await c.call_tool("submit_trajectory", {
                "task": f"Long-use task {i // 2}: find x", "model": f"m{i % 2}", "final_answer": str(i),
                "outcome": "correct" if i % 2 else "incorrect", "steps": ["step one", "step two"],
                "category": "Algebra", "subcategory": "Linear Equations"})
            assert not r.is_error, r.content
            stamps.append(time.perf_counter())
        rate = submits / (time.perf_counter() - t0)
        w = min(500, submits // 2)
        first = w / (stamps[w - 1] - t0)
        last = w / (stamps[-1] - stamps[-w - 1])
        times = []
        for _ in range(200):
            t1 = time.perf_counter()
            await c.call_tool("get_constraints", {"task": "solve the equation for x", "category": "Algebra",
                                                  "subcategory": "Linear Equations"})
            times.append((time.perf_counter() - t1) * 1000)
        status = (await c.call_tool("memory_status", {})).structured_content
    time.sleep(1)  # let a maintenance pass that is still running finish its files
    mb, files = disk(store)
    return {"rate": rate, "first": first, "last": last, "p50": pct(times, 0.5), "mb": mb, "files": files,
            "rows": status["trajectories"]}


def one_run(tmp: Path, rows: int) -> tuple[float, float]:
    """Seconds of one maintenance run after 100 single-row submits to a bank of `rows` trajectories: memcollab's
    `maintain` and, on an identical copy, LanceDB's own `optimize()` (what it replaced) with the same retention."""
    import shutil

    from memcollab.store.bank import Bank
    from memcollab.store.maintain import KEEP_VERSIONS_FOR, maintain
    from memcollab.store.models import TrajectoryIn

    store = tmp / f"one-run-{rows}"
    bank = Bank(store)
    for start in range(0, rows, 10_000):
        bank.add_trajectories([TrajectoryIn(task=f"Bulk task {i}: " + "find x such that 3x + 1 = 10. " * 20,
                                            model="m", outcome="correct", final_answer=str(i)).to_trajectory()
                               for i in range(start, min(rows, start + 10_000))])
    maintain(bank)  # the bank as a long-used one is: compacted, indexed
    for i in range(100):
        bank.add_trajectory(TrajectoryIn(task=f"New task {i}", model="m", outcome="correct",
                                         final_answer=str(i)).to_trajectory())
    shutil.copytree(store, tmp / f"one-run-{rows}-copy")
    t0 = time.perf_counter()
    maintain(bank)
    ours = time.perf_counter() - t0
    copy = Bank(tmp / f"one-run-{rows}-copy")
    t0 = time.perf_counter()
    db = copy.connect()
    for name in db.list_tables().tables:
        db.open_table(name).optimize(cleanup_older_than=KEEP_VERSIONS_FOR, delete_unverified=False)
    return ours, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--submits", type=int, default=5000, help="single submits of the long run (0: skip it)")
    ap.add_argument("--table-rows", type=int, default=100_000, help="bank size for the one-run comparison (0: skip)")
    args = ap.parse_args()
    n = args.submits
    tmp = scratch_dir("memcollab-maintain-")
    if args.table_rows:
        ours, lancedb_optimize = one_run(tmp, args.table_rows)
        print(f"one maintenance run after 100 single submits to {args.table_rows} trajectories: {ours:.2f} s; "
              f"LanceDB's optimize() on a copy {lancedb_optimize:.2f} s ({lancedb_optimize / ours:.1f}x)")
    if not n:
        return
    res = {}
    for label, auto in (("without maintenance", "0"), ("with automatic maintenance", str(AUTO_EVERY))):
        store = tmp / label.replace(" ", "-")
        fill(store, 300)
        res[label] = anyio.run(run, store, n, auto)
        r = res[label]
        print(f"{label:<28} {r['rows']:.0f} trajectories; submits {r['rate']:.0f}/s (first 500 {r['first']:.0f}/s, "
              f"last 500 {r['last']:.0f}/s: first/last {r['first'] / r['last']:.2f}, target <= 1.25); "
              f"get_constraints p50 {r['p50']:.1f} ms; {r['mb']:.1f} MB in {r['files']:.0f} files")
    a, b = res["without maintenance"], res["with automatic maintenance"]
    print(f"with maintenance vs without: p50 {b['p50'] / a['p50']:.2f}x, disk {b['mb'] / a['mb']:.2f}x, "
          f"files {b['files'] / a['files']:.2f}x")


if __name__ == "__main__":
    main()
