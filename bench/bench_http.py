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
figures are printed next to it as ratios. Then each tool alone (gets only, submits only) for half the time.

The clients run in this process, on the same cores as the server, so on a small machine the rates are
bounded by the clients' CPU as much as by the server's. The server's own cost is printed separately: CPU
seconds the server process used per call (from /proc, every thread: LanceDB's included), and what that
makes one server core do (1000 / ms per call), next to the same figure for ping.

    python bench/bench_http.py [--quick] [--seconds S] [--clients N] [--no-s3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import defaultdict
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the real-server helpers the tests use (support/)

from scratch import scratch_dir  # noqa: E402
from bench_server import fill, pct, record_lines  # noqa: E402
from support.http_server import MEMCOLLAB, http_client, http_server, serve_env  # noqa: E402

from memcollab.store.maintain import AUTO_EVERY  # noqa: E402

GET_SHARE = 0.7
# The servers run with automatic maintenance as shipped (the tests' helpers turn it off).
SHIPPED = {"MEMCOLLAB_AUTO_MAINTAIN": str(AUTO_EVERY)}


def tags() -> list[tuple[str, str]]:
    from memcollab.store.taxonomy import default_taxonomy

    return [(c, s) for c, s, _ in default_taxonomy().entries()]


@asynccontextmanager
async def stdio_session(store: Path):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    p = StdioServerParameters(command=MEMCOLLAB, args=["serve"], env=serve_env(store, **SHIPPED))
    async with Client(p, mode="legacy") as c:
        yield c


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def warm(c: Any) -> None:
    """Steady state, as in bench_server: each tag's records and BM25 index cached once."""
    for cat, sub in tags():
        await c.call_tool("get_constraints", {"task": "warm up", "category": cat, "subcategory": sub})


async def drive(sessions: list[Any], seconds: float, tool_mix: bool, seed: int = 1, get_share: float = GET_SHARE,
                server_pid: int | None = None) -> dict[str, Any]:
    """Each caller loops until the deadline; `tool_mix=False` sends pings only (the floor). With `server_pid`,
    also the server's CPU seconds over the run."""
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
                elif rng.random() < get_share:
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

    cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
    t0 = time.perf_counter()
    await asyncio.gather(*(caller(w, c) for w, c in enumerate(sessions)))
    took = time.perf_counter() - t0
    cpu = cpu_seconds(server_pid) - cpu0 if server_pid else None
    return {"seconds": took, "lat": lat, "errors": errors, "acked": acked, "server_cpu": cpu}


async def phases(sessions: list[Any], seconds: float, seed: int, pid: int) -> dict[str, dict]:
    await warm(sessions[0])
    return {"floor": await drive(sessions, seconds / 2, tool_mix=False, server_pid=pid),
            "mix": await drive(sessions, seconds, tool_mix=True, seed=seed, server_pid=pid),
            "get": await drive(sessions, seconds / 2, tool_mix=True, seed=seed + 10, get_share=1.0, server_pid=pid),
            "submit": await drive(sessions, seconds / 2, tool_mix=True, seed=seed + 20, get_share=0.0,
                                  server_pid=pid)}


async def run_stdio(store: Path, clients: int, seconds: float) -> dict[str, dict]:
    from bench_server import child_pids

    async with stdio_session(store) as c:
        await c.call_tool("memory_status", {})
        (pid,) = [p for p in child_pids() if "serve" in Path(f"/proc/{p}/cmdline").read_text()]
        return await phases([c] * clients, seconds, 1, pid)


async def run_http(store: str | Path, clients: int, seconds: float, log_dir: Path, token: str,
                   *serve_args: str) -> dict[str, dict]:
    from contextlib import AsyncExitStack

    with http_server(store, log_dir, *serve_args, **SHIPPED) as srv:
        async with AsyncExitStack() as stack:
            sessions = [await stack.enter_async_context(http_client(srv.url, token)) for _ in range(clients)]
            await sessions[0].call_tool("memory_status", {})
            return await phases(sessions, seconds, 2, srv.proc.pid)


def lost(store: str | Path, acked: list[str]) -> int:
    from memcollab.store.bank import Bank

    have = Bank(store).get_trajectories(set(acked))
    return len(set(acked) - set(have))


def server_ms(run: dict) -> float | None:
    n = sum(len(v) for v in run["lat"].values())
    return run["server_cpu"] / n * 1000 if n and run["server_cpu"] is not None else None


def row(name: str, runs: dict[str, dict], store: str | Path) -> dict[str, Any]:
    floor, mix = runs["floor"], runs["mix"]
    acked = [a for r in runs.values() for a in r["acked"]]
    missing = lost(store, acked)
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
    out["get_only_s"] = round(len(runs["get"]["lat"]["get_constraints"]) / runs["get"]["seconds"], 1)
    out["submit_only_s"] = round(len(runs["submit"]["lat"]["submit_trajectory"]) / runs["submit"]["seconds"], 1)
    for phase in ("floor", "mix", "get", "submit"):
        ms = server_ms(runs[phase])
        out[f"server_ms_per_{phase}"] = round(ms, 2) if ms else None
        out[f"per_core_{phase}_s"] = round(1000 / ms) if ms else None
    out["errors"] = sum(len(r["errors"]) for r in runs.values())
    out["lost_writes"] = missing
    out["acked_writes"] = len(acked)
    errs = [e for r in runs.values() for e in r["errors"]]
    if errs:
        out["first_error"] = errs[0]
    return out


def print_rows(rows: list[dict[str, Any]]) -> None:
    keys = ["setup", "floor_calls_s", "floor_p50_ms", "mix_calls_s", "mix_vs_floor_rate", "get_s", "get_p50_ms",
            "get_p99_ms", "get_p50_vs_floor", "submit_s", "submit_p50_ms", "submit_p99_ms", "submit_p50_vs_floor",
            "get_only_s", "submit_only_s", "server_ms_per_floor", "server_ms_per_mix", "server_ms_per_get",
            "server_ms_per_submit", "per_core_floor_s", "per_core_get_s", "per_core_submit_s",
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
    tmp = scratch_dir("bench-http-")
    n_records = 300 if args.quick else 1000
    rows = []

    store = tmp / "stdio-store"
    fill(store, n_records)
    rows.append(row("stdio", await run_stdio(store, args.clients, args.seconds), store))

    store = tmp / "http-store"
    fill(store, n_records)
    token = add_token(Bank(store), "bench", "write")
    rows.append(row("http", await run_http(store, args.clients, args.seconds, tmp, token), store))
    rows.append(row("http-stateless", await run_http(store, args.clients, args.seconds, tmp, token, "--stateless"),
                    store))

    if not args.no_s3:
        from support.s3 import MotoServer

        moto = MotoServer()
        try:
            os.environ.update(moto.env())
            uri = f"s3://{moto.new_bucket()}/bench"
            bank = Bank(uri)
            import_jsonl(bank, record_lines(n_records // 5), progress=lambda _m: None)
            token = add_token(bank, "bench", "write")
            rows.append(row("http-s3", await run_http(uri, args.clients, args.seconds, tmp, token), uri))
        finally:
            moto.stop()

    print(f"{args.clients} clients, {args.seconds:.0f} s of mixed calls ({GET_SHARE:.0%} get_constraints, tagged; "
          f"the rest submit_trajectory) per set-up; floor: ping by the same clients for "
          f"{args.seconds / 2:.0f} s; then gets only and submits only, {args.seconds / 2:.0f} s each; "
          f"{n_records} records (S3: {n_records // 5}); os.cpu_count()={os.cpu_count()}")
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
