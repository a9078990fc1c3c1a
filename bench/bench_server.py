"""The foundation's figures, in one run, against floors measured in the same run:

- spawn → tools/list for `memcollab serve` and for a bare one-tool MCPServer (the floor), and their ratio;
- the floor of one call: a bare structured tool call over stdio (Python SDK at both ends), p50, and the same
  with 8 calls in flight at once (calls/s);
- get_constraints p50/p99 over stdio at 1k, 10k and 100k records (filled by import), caller-tagged, as a
  ratio of the floor; untagged with the embedding model loaded;
- submit_trajectory calls/s over stdio, one client in sequence, on a store holding 1k and 10k trajectories;
  the same with the embedding model loaded, task matching on and off (issue 21);
  8 concurrent callers on one server process (group commit); import trajectories/s;
- peak RSS of the server without and with the embedding model loaded;
- side by side, where node is present: the reference MCP memory server (@modelcontextprotocol/server-memory)
  with the same client and item counts — search_nodes p50, create_entities calls/s, and two processes
  writing at once (lost writes) — and memcollab's own two-writers test.

    python bench/bench_server.py [--quick]        (--quick: 1k and 10k only, fewer repeats)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from scratch import scratch_dir

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "memcollab")
FLOOR = """
from mcp.server import MCPServer
mcp = MCPServer("floor")
@mcp.tool()
def ping(task: str) -> dict[str, str]:
    return {"echo": task}
mcp.run()
"""
NODE_PKG = "@modelcontextprotocol/server-memory"


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))]


def env_for(store: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MEMCOLLAB_STORE": str(store), **extra}


def params(store: Path, **extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=EXE, args=["serve"], env=env_for(store, **extra))


async def spawn_to_list(p: StdioServerParameters) -> float:
    t0 = time.perf_counter()
    async with Client(p, mode="legacy") as c:
        await c.list_tools()
        return time.perf_counter() - t0


def child_pids() -> list[int]:
    me, out = os.getpid(), []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == me:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- filling ------------------------------------------------------------------------------------

def record_lines(n: int, seed: int = 1) -> list[str]:
    from memcollab.store.taxonomy import default_taxonomy

    rng = random.Random(seed)
    tags = [(c, s) for c, s, _ in default_taxonomy().entries()]
    words = ("find solve compute remainder circle triangle probability integer sequence function list string sort "
             "count prime divisor area volume angle ratio percent equation root sum product digit base").split()
    out = []
    for i in range(n):
        c, s = tags[i % len(tags)]
        task = f"Task {i}: " + " ".join(rng.choice(words) for _ in range(14))
        out.append(json.dumps({"type": "record", "category": c, "subcategory": s, "task": task, "constraints": [
            {"when": f"a {rng.choice(words)} problem", "enforce": f"check the {rng.choice(words)} twice",
             "avoid": f"confusing {rng.choice(words)} with {rng.choice(words)}"}]}))
    return out


def fill(store: Path, n: int) -> float:
    """Import n records with the CLI's import path; returns records/s. Then maintain (as the CLI does)."""
    from memcollab.store.bank import Bank
    from memcollab.store.maintain import maintain
    from memcollab.store.transfer import import_jsonl

    lines = record_lines(n)
    bank = Bank(store)
    bank.table("records")  # connect first: the lancedb import is not part of the import rate
    t0 = time.perf_counter()
    import_jsonl(bank, lines, progress=lambda _m: None)
    rate = n / (time.perf_counter() - t0)
    maintain(bank)
    return rate


def import_trajectories_rate(n: int, store: Path | None = None) -> float:
    from memcollab.distill.pairing import pair_tasks
    from memcollab.store.bank import Bank
    from memcollab.store.maintain import maintain
    from memcollab.store.transfer import import_jsonl

    lines = [json.dumps({"type": "trajectory", "task": f"Imported task {i // 2}", "model": f"m{i % 2}",
                         "final_answer": str(i), "outcome": "correct" if i % 2 else "incorrect",
                         "steps": ["one step", "another"], "category": "Algebra"}) for i in range(n)]
    bank = Bank(store or scratch_dir() / "s")
    bank.table("trajectories")
    t0 = time.perf_counter()
    rep = import_jsonl(bank, lines, progress=lambda _m: None)
    pair_tasks(bank, sorted(rep["tasks_to_pair"]))
    rate = n / (time.perf_counter() - t0)
    if store is not None:
        maintain(bank)  # as `memcollab import` does after a large import
    return rate


PAYLOAD_FLOOR = """
import sys
from mcp.server import MCPServer
from memcollab.store.retrieve import Retrieval
canned = Retrieval.model_validate_json(open(sys.argv[1]).read())
mcp = MCPServer("payload-floor")
@mcp.tool()
def get_constraints(task: str, category: str | None = None, subcategory: str | None = None) -> Retrieval:
    return canned
mcp.run()
"""


async def payload_floor_latency(tmp: Path, answer: dict[str, Any], n: int, floor: Client) -> tuple[float, float]:
    """p50 of a bare tool call over stdio that returns a canned get_constraints answer (same output schema and
    size, so the client validates the same): the MCP call itself for this answer (ms)."""
    (tmp / "payload_floor.py").write_text(PAYLOAD_FLOOR)
    (tmp / "answer.json").write_text(json.dumps(answer))
    p = StdioServerParameters(command=sys.executable, args=[str(tmp / "payload_floor.py"), str(tmp / "answer.json")])
    async with Client(p, mode="legacy") as c:
        await c.call_tool("get_constraints", {"task": "warm up"})
        times, floors = [], []
        for _ in range(n):
            times.append((await timed(c, "get_constraints", {"task": "find the remainder", "category": "Algebra"}))[0])
            floors.append(await floor_call(floor))
    return pct(times, 0.5), pct(floors, 0.5)


def floor_params(tmp: Path) -> StdioServerParameters:
    floor_file = tmp / "floor.py"
    floor_file.write_text(FLOOR)
    return StdioServerParameters(command=sys.executable, args=[str(floor_file)])


async def concurrent_rate(p: StdioServerParameters, tool: str, args_for: Any, clients: int, each: int) -> float:
    """calls/s with `clients` callers in flight at once on one server process (one stdio session)."""
    async with Client(p, mode="legacy") as c:
        await c.call_tool(tool, args_for(-1, 0))

        async def caller(w: int) -> None:
            for i in range(each):
                r = await c.call_tool(tool, args_for(w, i))
                assert not r.is_error, r.content

        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for w in range(clients):
                tg.start_soon(caller, w)
        return clients * each / (time.perf_counter() - t0)


def submit_args(w: int, i: int) -> dict[str, Any]:
    return {"task": f"concurrent task {w}-{i // 2}", "model": f"m{i % 2}", "final_answer": str(i),
            "outcome": "correct" if i % 2 else "incorrect", "steps": ["a", "b"]}


def encode_floor(n: int, plain: bool = False) -> float:
    """p50 of encoding one query of the same shape with the embedding model in this process, on one torch
    thread and by the same path as the server (one text: the traced forward when the model traces): the
    model's own share of an untagged query (ms). `plain`: the model's encode() instead."""
    import torch

    from memcollab.store.embed import get_embedder

    torch.set_num_threads(1)
    embedder = get_embedder()  # compute(): the embedder's cache of recent texts is not measured
    rng = random.Random(8)
    words = "find the remainder of a prime divisor sum circle area triangle angle probability dice".split()
    times = []
    for i in range(n + 5):
        t0 = time.perf_counter()
        text = " ".join(rng.choice(words) for _ in range(10))
        if plain:
            embedder.model.encode([text], normalize_embeddings=True, show_progress_bar=False)
        else:
            embedder.compute([text])
        if i >= 5:
            times.append((time.perf_counter() - t0) * 1000)
    return pct(times, 0.5)


async def untagged_latency(store: Path, n: int, floor: Client) -> tuple[float, float, dict[str, Any]]:
    """p50 of untagged get_constraints with the model loaded and every record embedded (ms)."""
    from memcollab.store.taxonomy import default_taxonomy

    rng = random.Random(7)
    words = "find the remainder of a prime divisor sum circle area triangle angle probability dice".split()
    async with Client(params(store, MEMCOLLAB_AUTO_MAINTAIN="0", MEMCOLLAB_EMBED_WAIT="600"), mode="legacy") as c:
        first = (await c.call_tool("get_constraints", {"task": "warm up: circle area"})).structured_content
        for cat, sub, _ in default_taxonomy().entries():  # steady state, as in query_latency
            await c.call_tool("get_constraints", {"task": "warm up", "category": cat, "subcategory": sub})
        warm = random.Random(70)  # and untagged, on other texts (the embedder keeps recent texts' vectors)
        for _ in range(20):
            await c.call_tool("get_constraints", {"task": " ".join(warm.choice(words) for _ in range(12))})
        times, floors = [], []
        for _ in range(n):
            task = " ".join(rng.choice(words) for _ in range(10))
            ms, r = await timed(c, "get_constraints", {"task": task})
            times.append(ms)
            floors.append(await floor_call(floor))
            assert r.structured_content["classified_by"] == "server", r
    return pct(times, 0.5), pct(floors, 0.5), first


LAST_ANSWER: dict[str, Any] = {}


async def timed(c: Client, tool: str, args: dict[str, Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    r = await c.call_tool(tool, args)
    ms = (time.perf_counter() - t0) * 1000
    assert not r.is_error, r.content
    return ms, r


async def floor_call(floor: Client) -> float:
    """One bare structured call, made right after each measured call: on a shared machine whose load drifts,
    interleaving gives the floor and the measurement the same conditions."""
    return (await timed(floor, "ping", {"task": "find the remainder of a prime divisor sum"}))[0]


async def query_latency(store: Path, n: int, floor: Client) -> dict[str, float]:
    from memcollab.store.taxonomy import default_taxonomy

    tags = [(c, s) for c, s, _ in default_taxonomy().entries()]
    rng = random.Random(5)
    async with Client(params(store, MEMCOLLAB_EMBEDDINGS="off", MEMCOLLAB_AUTO_MAINTAIN="0"), mode="legacy") as c:
        for cat, sub in tags:  # steady state: each tag's records and BM25 index cached once
            await c.call_tool("get_constraints", {"task": "warm up", "category": cat, "subcategory": sub})
        times, floors = [], []
        for _ in range(n):
            cat, sub = rng.choice(tags)
            ms, r = await timed(c, "get_constraints", {"task": "find the remainder of a prime divisor sum",
                                                         "category": cat, "subcategory": sub})
            times.append(ms)
            floors.append(await floor_call(floor))
            assert r.structured_content["records"], r
            LAST_ANSWER.update(r.structured_content)
    return {"p50": pct(times, 0.5), "p99": pct(times, 0.99), "floor": pct(floors, 0.5)}


async def submit_rate(store: Path, n: int, floor: Client) -> tuple[float, float]:
    """(submit_trajectory calls/s, bare calls/s interleaved with them), one client in sequence. The server runs
    as shipped, automatic maintenance included (every 100 writes: without it every append grows with the
    fragments and versions that pile up)."""
    async with Client(params(store, MEMCOLLAB_EMBEDDINGS="off"), mode="legacy") as c:
        await c.call_tool("memory_status", {})
        await c.call_tool("submit_trajectory", submit_args(-1, 0))
        ours, floors = 0.0, 0.0
        for i in range(n):
            ours += (await timed(c, "submit_trajectory", {
                "task": f"rate task {i // 2}", "model": f"m{i % 2}", "final_answer": str(i),
                "outcome": "correct" if i % 2 else "incorrect", "steps": ["a", "b"]}))[0]
            floors += await floor_call(floor)
        return n / ours * 1000, n / floors * 1000


async def matching_submit_rate(store: Path, n: int, floor: Client, match: str) -> tuple[float, float, float]:
    """Task matching's cost on the write lane (issue 21): (submit calls/s, bare calls/s interleaved, seconds
    from the last answer until its matching and pairing were written) for one client in sequence on a server
    whose embedding model has loaded, with MEMCOLLAB_TASK_MATCH=`match`. Every other submission is a new task
    text that a matcher must embed and compare ("rate task 17" is a near-miss of "rate task 16": numbers)."""
    async with Client(params(store, MEMCOLLAB_TASK_MATCH=match), mode="legacy") as c:
        deadline = time.monotonic() + 120
        while (await c.call_tool("memory_status", {})).structured_content["embedding_model"] != "ready":
            if time.monotonic() > deadline:
                raise SystemExit("the embedding model did not load in 120 s")
            await anyio.sleep(0.2)
        await c.call_tool("submit_trajectory", submit_args(-1, 0))
        ours, floors = 0.0, 0.0
        for i in range(n):
            ours += (await timed(c, "submit_trajectory", {
                "task": f"rate task {i // 2}: how many divisors does {1000 + i // 2} have?", "model": f"m{i % 2}",
                "final_answer": str(i), "outcome": "correct" if i % 2 else "incorrect", "steps": ["a", "b"]}))[0]
            floors += await floor_call(floor)
        t0 = time.perf_counter()
        await c.call_tool("memory_status", {})  # waits for what the pairer (matching included) has queued
        return n / ours * 1000, n / floors * 1000, time.perf_counter() - t0


def append_floor(store: Path, n: int = 200) -> float:
    """p50 (ms) of one single-row LanceDB append to a trajectories table, in this process, without MCP: the
    storage's share of a submit, which commits one append before it answers."""
    import statistics

    from memcollab.store.bank import Bank, _traj_row, arrow_rows
    from memcollab.store.models import TrajectoryIn

    tbl = Bank(store).appender("trajectories")
    times = []
    for i in range(n):
        t = TrajectoryIn(task=f"append floor {i // 2}", model=f"m{i % 2}", final_answer=str(i),
                         outcome="correct" if i % 2 else "incorrect", steps=["a", "b"]).to_trajectory()
        rows = arrow_rows("trajectories", [_traj_row(t)])
        t0 = time.perf_counter()
        tbl.add(rows)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


async def rss(store: Path) -> tuple[float, float]:
    async with Client(params(store, MEMCOLLAB_EMBEDDINGS="off"), mode="legacy") as c:
        await c.call_tool("get_constraints", {"task": "circle area", "category": "Geometry"})
        without = max(peak_rss_mb(p) for p in child_pids())
    async with Client(params(store, MEMCOLLAB_EMBED_WAIT="600"), mode="legacy") as c:
        r = await c.call_tool("get_constraints", {"task": "circle area"})  # untagged: loads the model
        assert r.structured_content["classified_by"] == "server", r
        with_model = max(peak_rss_mb(p) for p in child_pids())
    return without, with_model


async def memcollab_two_writers(store: Path, each: int) -> tuple[int, int]:
    async def writer(w: int) -> None:
        async with Client(params(store, MEMCOLLAB_EMBEDDINGS="off"), mode="legacy") as c:
            for i in range(each):
                await c.call_tool("submit_trajectory", {"task": f"two writers {w}-{i}", "model": f"w{w}",
                                                        "final_answer": "1", "outcome": "correct"})

    async with anyio.create_task_group() as tg:
        for w in range(2):
            tg.start_soon(writer, w)
    from memcollab.store.bank import Bank

    return 2 * each, Bank(store).count("trajectories")


# --- the reference server ------------------------------------------------------------------------

def reference_entry() -> str | None:
    if not shutil.which("node") or not shutil.which("npm"):
        return None
    prefix = ROOT / "bench" / ".node"
    entry = prefix / "node_modules" / NODE_PKG / "dist" / "index.js"
    if not entry.exists():
        subprocess.run(["npm", "install", "--silent", "--prefix", str(prefix), NODE_PKG], check=False,
                       capture_output=True, timeout=300)
    return str(entry) if entry.exists() else None


def ref_params(entry: str, file: Path) -> StdioServerParameters:
    return StdioServerParameters(command="node", args=[entry], env={**os.environ, "MEMORY_FILE_PATH": str(file)})


def entity(i: int, w: str = "") -> dict[str, Any]:
    return {"name": f"task-{w}{i}", "entityType": "task",
            "observations": [f"Task {i} (key{i}q): find the remainder of a prime divisor sum",
                             "When x, enforce y; avoid z"]}


async def reference(entry: str, counts: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"spawn": pct([await spawn_to_list(ref_params(entry, scratch_dir() / "m.jsonl"))
                                         for _ in range(3)], 0.5)}
    file = scratch_dir() / "m.jsonl"
    async with Client(ref_params(entry, file), mode="legacy") as c:
        t0 = time.perf_counter()
        for i in range(300):
            await c.call_tool("create_entities", {"entities": [entity(i)]})
        out["create_rate"] = 300 / (time.perf_counter() - t0)
        have = 300
        for n in counts:
            while have < n:
                batch = [entity(i) for i in range(have, min(n, have + 500))]
                await c.call_tool("create_entities", {"entities": batch})
                have += len(batch)
            times = []
            rng = random.Random(3)
            for _ in range(100):  # a selective query (one item), as get_constraints returns 3 records
                t0 = time.perf_counter()
                await c.call_tool("search_nodes", {"query": f"key{rng.randrange(n)}q"})
                times.append((time.perf_counter() - t0) * 1000)
            out[n] = pct(times, 0.5)
    file = scratch_dir() / "m.jsonl"

    async def writer(w: str) -> None:
        async with Client(ref_params(entry, file), mode="legacy") as c:
            for i in range(300):
                await c.call_tool("create_entities", {"entities": [entity(i, w)]})

    async with anyio.create_task_group() as tg:
        tg.start_soon(writer, "a")
        tg.start_soon(writer, "b")
    async with Client(ref_params(entry, file), mode="legacy") as c:
        r = await c.call_tool("read_graph", {})
        graph = r.structured_content or json.loads(r.content[0].text)
    out["two_writers"] = (600, len(graph.get("entities", [])))
    return out


PARTS = ("spawn", "tagged", "untagged", "submit", "matching", "concurrent", "import", "rss", "writers", "reference")


async def main_async(quick: bool, parts: set[str]) -> None:
    repeats = 3 if quick else 5
    counts = [1000, 10_000] if quick else [1000, 10_000, 100_000]
    tmp = scratch_dir()
    if "spawn" in parts:
        floor = [await spawn_to_list(floor_params(tmp)) for _ in range(repeats)]
        ours = [await spawn_to_list(params(tmp / f"spawn{i}")) for i in range(repeats)]
        f50, o50 = pct(floor, 0.5), pct(ours, 0.5)
        print(f"spawn -> tools/list p50: floor (bare MCPServer) {f50 * 1000:.0f} ms, memcollab serve "
              f"{o50 * 1000:.0f} ms, ratio {o50 / f50:.2f}x (target <= 1.3x)")
    async with Client(floor_params(tmp), mode="legacy") as floor:
        await floor_call(floor)
        lat: dict[int, dict[str, float]] = {}
        for n in counts if parts & {"tagged", "untagged", "rss", "reference"} else []:
            store = tmp / f"r{n}"
            rate = fill(store, n)
            lat[n] = q = await query_latency(store, 300, floor)
            print(f"get_constraints caller-tagged over stdio at {n:>6} records: p50 {q['p50']:.2f} ms, p99 "
                  f"{q['p99']:.1f} ms; floor (bare structured call, interleaved) p50 {q['floor']:.2f} ms; ratio "
                  f"{q['p50'] / q['floor']:.2f}x " + ("(target <= 1.5x)" if n <= 10_000 else "(target <= 10 ms)")
                  + f" (records imported at {rate:.0f}/s)")
        if "tagged" in parts:
            pf, pf_floor = await payload_floor_latency(tmp, LAST_ANSWER, 300, floor)
            print(f"payload floor: a bare tool returning a canned get_constraints answer (same schema and size) p50 "
                  f"{pf:.2f} ms = {pf / pf_floor:.2f}x the bare-call floor of the same moment (the client "
                  f"validates the answer against its output schema)")
        if "untagged" in parts:
            un50, un_floor, first = await untagged_latency(tmp / "r1000", 100, floor)
            enc, plain = encode_floor(100), encode_floor(100, plain=True)
            print(f"get_constraints untagged, model loaded, at 1000 records: p50 {un50:.1f} ms (target <= 25 ms); floor "
                  f"p50 {un_floor:.2f} ms, ratio {un50 / un_floor:.1f}x; first call after start saw "
                  f"{first['records_seen']}/{first['records_total']} records with vectors "
                  f"(classified_by {first['classified_by']}); the encode of one such query alone (as the server runs it) "
                  f"p50 {enc:.1f} ms (the model's encode(): {plain:.1f} ms), so call floor + encode = "
                  f"{un_floor + enc:.1f} ms, ratio {un50 / (un_floor + enc):.2f}x")
        rates = {}
        for n in (1000, 10_000) if "submit" in parts else ():
            store = tmp / f"submit{n}"
            import_trajectories_rate(n, store)
            rates[n] = await submit_rate(store, 300, floor)
        if rates:
            (r1, f1), (r10, f10) = rates[1000], rates[10_000]
            print(f"submit_trajectory, one client in sequence: {r1:.0f} calls/s on 1k stored trajectories (floor "
                  f"{f1:.0f}/s interleaved, ratio {f1 / r1:.2f}x), {r10:.0f} calls/s on 10k (floor {f10:.0f}/s, "
                  f"ratio {f10 / r10:.2f}x); 1k/10k rate {r1 / r10:.2f} (targets >= 100 calls/s, <= 1.25)")
            app = append_floor(tmp / "append-floor")
            both = 1000 / (1000 / f1 + app)
            print(f"  storage floor: one single-row LanceDB append p50 {app:.2f} ms in-process; bare call + one append "
                  f"= {both:.0f} calls/s, the most a submit that commits before it answers can reach here "
                  f"(submit at 1k: {r1 / both:.2f} of it)")
        if "matching" in parts:
            on = await matching_submit_rate(tmp / "match-on", 300, floor, "on")
            off = await matching_submit_rate(tmp / "match-off", 300, floor, "off")
            print(f"submit_trajectory, model loaded, one client in sequence, a new task text every other call: task "
                  f"matching on {on[0]:.0f} calls/s (floor {on[1]:.0f}/s, ratio {on[1] / on[0]:.2f}x; all matched "
                  f"{on[2] * 1000:.0f} ms after the last answer), off {off[0]:.0f} calls/s (floor {off[1]:.0f}/s, "
                  f"ratio {off[1] / off[0]:.2f}x); on/off ratio-to-floor {(on[1] / on[0]) / (off[1] / off[0]):.2f}")
    if "concurrent" in parts:
        floor8 = await concurrent_rate(floor_params(tmp), "ping", lambda w, i: {"task": f"{w} {i}"}, 8, 100)
        ours8 = await concurrent_rate(params(tmp / "concurrent", MEMCOLLAB_EMBEDDINGS="off"), "submit_trajectory",
                                      submit_args, 8, 100)
        print(f"8 concurrent callers on one server process: submit_trajectory {ours8:.0f} calls/s aggregate "
              f"(target >= 400); floor (bare call, 8 in flight) {floor8:.0f} calls/s; ratio {floor8 / ours8:.2f}x")
    if "import" in parts:
        print(f"import: {import_trajectories_rate(10_000 if not quick else 2000):.0f} trajectories/s (with pairing)")
    if "rss" in parts:
        without, with_model = await rss(tmp / "r1000")
        print(f"peak RSS of the server: {without:.0f} MB without the embedding model, {with_model:.0f} MB with it")
    if "writers" in parts:
        sent, stored = await memcollab_two_writers(tmp / "two", 300)
        print(f"memcollab, two processes writing at once: {sent} sent, {stored} stored, "
              f"{(sent - stored) / sent * 100:.1f}% lost")

    entry = reference_entry() if "reference" in parts else None
    if entry is None:
        if "reference" in parts:
            print("reference server: node/npm or the package is not available here; skipped")
        return
    ref = await reference(entry, [n for n in counts if n <= 10_000])
    print(f"reference {NODE_PKG}: spawn -> tools/list p50 {ref['spawn'] * 1000:.0f} ms; "
          f"create_entities {ref['create_rate']:.0f} calls/s")
    for n in (1000, 10_000):
        if n in ref:
            print(f"reference search_nodes p50 at {n:>6} items: {ref[n]:.1f} ms; memcollab get_constraints p50 "
                  f"{lat[n]['p50']:.1f} ms -> memcollab is {ref[n] / lat[n]['p50']:.1f}x faster"
                  + (" (target >= 1x)" if n == 1000 else " (target >= 4x)"))
    sent, stored = ref["two_writers"]
    print(f"reference, two processes writing at once: {sent} sent, {stored} stored, "
          f"{(sent - stored) / sent * 100:.1f}% lost")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1k and 10k records only (the full run adds 100k)")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        ap.error(f"unknown parts: {sorted(parts - set(PARTS))}")
    anyio.run(main_async, args.quick, parts)


if __name__ == "__main__":
    main()
