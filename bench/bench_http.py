"""A team's server under load: 16 concurrent MCP clients, mixed get_constraints / submit_trajectory, for a
bounded time, in three set-ups measured in one run:

- stdio: one `memcollab serve` process, the 16 callers multiplexed on its one stdio session (the most one
  local process can be asked to do);
- http: one `memcollab serve --transport http` process on a local store, 16 clients each with its own HTTP
  connection and a bearer token; and the same with `--stateless` (no sessions);
- http-s3: the same server with the bank on a local S3 server (moto, as in the tests).

For each: calls/s per tool, p50/p99 per tool, errors (target 0) and lost writes (acknowledged trajectory ids
missing from the bank afterwards; target 0). The floor of each set-up is MCP `ping` by the same 16 clients
over the same transport (protocol, HTTP and the token check, no store access), measured in the same run;
figures are printed next to it as ratios.

    python bench/bench_http.py [--quick] [--seconds S] [--clients N] [--no-s3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the real-server helpers the tests use (support/)

from bench_server import fill, pct, record_lines  # noqa: E402
from support.http_server import MEMCOLLAB, http_client, http_server, serve_env  # noqa: E402

GET_SHARE = 0.7


def tags() -> list[tuple[str, str]]:
    from memcollab.store.taxonomy import default_taxonomy

    return [(c, s) for c, s, _ in default_taxonomy().entries()]


@asynccontextmanager
async def stdio_session(store: Path):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    p = StdioServerParameters(command=MEMCOLLAB, args=["serve"], env=serve_env(store))
    async with Client(p, mode="legacy") as c:
        yield c


async def drive(sessions: list[Any], seconds: float, tool_mix: bool, seed: int = 1) -> dict[str, Any]:
    """Each caller loops until the deadline; `tool_mix=False` sends pings only (the floor)."""
    lat: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    acked: list[str] = []
    tag_list = tags()
    deadline = time.perf_counter() + seconds

    async def caller(w: int, c: Any) -> None:
        rng = random.Random(seed * 1000 + w)
        i = 0
        while time.perf_counter() < deadline:
            i += 1
            t0 = time.perf_counter()
            try:
                if not tool_mix:
                    await c.send_ping()
                    name = "ping"
                elif rng.random() < GET_SHARE:
                    cat, sub = rng.choice(tag_list)
                    name = "get_constraints"
                    r = await c.call_tool(name, {"task": "find the remainder of a prime divisor sum",
                                                 "category": cat, "subcategory": sub})
                    if r.is_error:
                        errors.append(r.content[0].text[:200])
                else:
                    name = "submit_trajectory"
                    # tasks shared between callers and models, so submits also derive contrast pairs
                    r = await c.call_tool(name, {"task": f"bench task {seed}-{rng.randrange(200)}",
                                                 "model": f"model-{w % 4}", "final_answer": f"{w}-{i}",
                                                 "outcome": rng.choice(["correct", "incorrect"]),
                                                 "steps": [f"caller {w} step {i}"]})
                    if r.is_error:
                        errors.append(r.content[0].text[:200])
                    else:
                        acked.append(r.structured_content["trajectory_id"])
            except Exception as exc:  # a transport failure counts as an error, the run goes on
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            lat[name].append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(caller(w, c) for w, c in enumerate(sessions)))
    took = time.perf_counter() - t0
    return {"seconds": took, "lat": lat, "errors": errors, "acked": acked}


async def run_stdio(store: Path, clients: int, seconds: float) -> tuple[dict, dict]:
    async with stdio_session(store) as c:
        await c.call_tool("memory_status", {})
        floor = await drive([c] * clients, seconds / 2, tool_mix=False)
        mix = await drive([c] * clients, seconds, tool_mix=True, seed=1)
    return floor, mix


async def run_http(store: str | Path, clients: int, seconds: float, log_dir: Path, token: str,
                   *serve_args: str) -> tuple[dict, dict]:
    from contextlib import AsyncExitStack

    with http_server(store, log_dir, *serve_args) as srv:
        async with AsyncExitStack() as stack:
            sessions = [await stack.enter_async_context(http_client(srv.url, token)) for _ in range(clients)]
            await sessions[0].call_tool("memory_status", {})
            floor = await drive(sessions, seconds / 2, tool_mix=False)
            mix = await drive(sessions, seconds, tool_mix=True, seed=2)
    return floor, mix


def lost(store: str | Path, acked: list[str]) -> int:
    from memcollab.store.bank import Bank

    have = Bank(store).get_trajectories(set(acked))
    return len(set(acked) - set(have))


def row(name: str, floor: dict, mix: dict, missing: int) -> dict[str, Any]:
    f_rate = len(floor["lat"]["ping"]) / floor["seconds"]
    f_p50 = pct(floor["lat"]["ping"], 0.5)
    out: dict[str, Any] = {"setup": name, "floor_calls_s": round(f_rate, 1), "floor_p50_ms": round(f_p50, 2)}
    for tool in ("get_constraints", "submit_trajectory"):
        xs = mix["lat"].get(tool, [])
        rate = len(xs) / mix["seconds"]
        short = "get" if tool.startswith("get") else "submit"
        out[f"{short}_s"] = round(rate, 1)
        out[f"{short}_p50_ms"] = round(pct(xs, 0.5), 2) if xs else None
        out[f"{short}_p99_ms"] = round(pct(xs, 0.99), 2) if xs else None
        out[f"{short}_p50_vs_floor"] = round(pct(xs, 0.5) / f_p50, 2) if xs else None
    total = sum(len(v) for v in mix["lat"].values()) / mix["seconds"]
    out["mix_calls_s"] = round(total, 1)
    out["mix_vs_floor_rate"] = round(total / f_rate, 3)
    out["errors"] = len(mix["errors"]) + len(floor["errors"])
    out["lost_writes"] = missing
    out["acked_writes"] = len(mix["acked"])
    if mix["errors"]:
        out["first_error"] = mix["errors"][0]
    return out


def print_rows(rows: list[dict[str, Any]]) -> None:
    keys = ["setup", "floor_calls_s", "floor_p50_ms", "mix_calls_s", "mix_vs_floor_rate", "get_s", "get_p50_ms",
            "get_p99_ms", "get_p50_vs_floor", "submit_s", "submit_p50_ms", "submit_p99_ms", "submit_p50_vs_floor",
            "errors", "acked_writes", "lost_writes"]
    for k in keys:
        print(f"{k:>22}: " + "  ".join(f"{str(r.get(k)):>12}" for r in rows))
    for r in rows:
        if "first_error" in r:
            print(f"{r['setup']} first error: {r['first_error']}")


async def main_async(args: argparse.Namespace) -> None:
    from memcollab.store.bank import Bank
    from memcollab.store.tokens import add_token
    from memcollab.store.transfer import import_jsonl

    os.environ["MEMCOLLAB_EMBEDDINGS"] = "off"
    tmp = Path(tempfile.mkdtemp(prefix="bench-http-"))
    n_records = 300 if args.quick else 1000
    rows = []

    store = tmp / "stdio-store"
    fill(store, n_records)
    floor, mix = await run_stdio(store, args.clients, args.seconds)
    rows.append(row("stdio", floor, mix, lost(store, mix["acked"])))

    store = tmp / "http-store"
    fill(store, n_records)
    token = add_token(Bank(store), "bench", "write")
    floor, mix = await run_http(store, args.clients, args.seconds, tmp, token)
    rows.append(row("http", floor, mix, lost(store, mix["acked"])))
    floor, mix = await run_http(store, args.clients, args.seconds, tmp, token, "--stateless")
    rows.append(row("http-stateless", floor, mix, lost(store, mix["acked"])))

    if not args.no_s3:
        from support.s3 import MotoServer

        moto = MotoServer()
        try:
            os.environ.update(moto.env())
            uri = f"s3://{moto.new_bucket()}/bench"
            bank = Bank(uri)
            import_jsonl(bank, record_lines(n_records // 5), progress=lambda _m: None)
            token = add_token(bank, "bench", "write")
            floor, mix = await run_http(uri, args.clients, args.seconds, tmp, token)
            rows.append(row("http-s3", floor, mix, lost(uri, mix["acked"])))
        finally:
            moto.stop()

    print(f"{args.clients} clients, {args.seconds:.0f} s of mixed calls ({GET_SHARE:.0%} get_constraints, tagged; "
          f"the rest submit_trajectory) per set-up; floor: ping by the same clients for "
          f"{args.seconds / 2:.0f} s; {n_records} records (S3: {n_records // 5}); os.cpu_count()={os.cpu_count()}")
    print_rows(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 s per set-up, 300 records")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--no-s3", action="store_true", help="skip the local S3 server set-up")
    args = ap.parse_args()
    if args.seconds is None:
        args.seconds = 10.0 if args.quick else 30.0
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
