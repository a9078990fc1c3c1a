"""A real `memcollab serve` subprocess: end to end, stdout purity, start-up imports, exit on stdin close."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from conftest import MEMCOLLAB, call, server_env, stdio_client, traj

HEAVY = ("lancedb", "litellm", "torch", "sentence_transformers")


@pytest.mark.anyio
async def test_end_to_end_over_stdio(store):
    async with stdio_client(store) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert {"submit_trajectory", "get_constraints", "memory_status"} <= names
        await call(c, "submit_trajectory", traj("What is 6 * 7?", "gpt-4o", "correct", "42"))
        r = await call(c, "submit_trajectory", traj("What is 6 * 7?", "llama-3-8b", "incorrect", "48"))
        assert r["pending_pairs"] == 1
        got = await call(c, "get_constraints", {"task": "What is 6 * 8?"})
        assert got["match"] == "none"
        st = await call(c, "memory_status")
        assert st["trajectories"] == 2


def _rpc(proc: subprocess.Popen, msg: dict) -> None:
    proc.stdin.write((json.dumps(msg) + "\n").encode())
    proc.stdin.flush()


def test_stdout_is_only_json_rpc_and_server_exits_on_stdin_close(store):
    proc = subprocess.Popen([MEMCOLLAB, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=server_env(store, MEMCOLLAB_LOG_LEVEL="DEBUG"))
    try:
        _rpc(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
        _rpc(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        _rpc(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        calls = [
            ("submit_trajectory", traj("T", "a", "correct")),
            ("submit_trajectory", traj("T", "b", "incorrect", "1")),
            ("submit_trajectory", {"task": "", "model": "a", "final_answer": "x", "outcome": "nope"}),
            ("submit_trajectory", {"task": 5}),
            ("get_constraints", {"task": "T", "limit": "many"}),
            ("get_constraints", {"task": "T"}),
            ("no_such_tool", {}),
            ("memory_status", {}),
        ]
        for i, (name, args) in enumerate(calls, start=3):
            _rpc(proc, {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": args}})
        _rpc(proc, {"jsonrpc": "2.0", "id": 99, "method": "no/such/method"})
        # read answers until every request has one, then close stdin
        lines, pending = [], set(range(1, 11)) | {99}
        deadline = time.monotonic() + 300  # generous: answers come as soon as they are ready
        while pending and time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line:
                break
            lines.append(line)
            pending.discard(json.loads(line).get("id"))
        proc.stdin.close()
        proc.wait(timeout=60)  # a generous deadline, not a speed bound: it must exit, on a busy machine too
        out = "".join(lines) + proc.stdout.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [ln for ln in out.splitlines() if ln.strip()]
    msgs = [json.loads(ln) for ln in lines]  # every stdout line parses
    assert all(m.get("jsonrpc") == "2.0" for m in msgs)
    by_id = {m.get("id"): m for m in msgs if "id" in m}
    assert set(range(1, 11)) <= set(by_id), sorted(by_id)
    assert by_id[5]["result"]["isError"] is True and by_id[6]["result"]["isError"] is True
    assert by_id[9]["result"]["isError"] is True  # unknown tool
    assert "trajectories" in by_id[10]["result"]["structuredContent"]
    # requests run concurrently, so count what was stored once the server is gone
    from memcollab.store.bank import Bank

    assert Bank(store).count("trajectories") == 2
    assert "Traceback" not in json.dumps(msgs)
    assert proc.returncode is not None
    assert "error" in by_id[99]


def test_no_heavy_imports_before_tools_list(store):
    """Build the server and answer tools/list in-process, then report which heavy modules got imported."""
    code = f"""
import anyio, sys
from mcp import Client
from memcollab.server.app import create_server
from memcollab.server.settings import Settings
async def main():
    async with Client(create_server(Settings(store={str(store)!r})), mode="legacy") as c:
        await c.list_tools()
        print(",".join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)
anyio.run(main)
"""
    # warm_up stays on: the background opening of the store may import lancedb, but only after start-up,
    # so also check the module import path alone.
    res = subprocess.run([sys.executable, "-c", "import sys, memcollab.server.cli, memcollab.server.app, "
                          "memcollab.server.tools as t; from memcollab.server.app import create_server; "
                          f"create_server(); print(','.join(m for m in {HEAVY!r} if m in sys.modules))"],
                         capture_output=True, text=True, env=server_env(store), timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"heavy modules on the import path: {res.stdout}"
    res = subprocess.run([sys.executable, "-c", code.replace("Settings(store=", "Settings(warm_up=False, store=")],
                         capture_output=True, text=True, env=server_env(store), timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip().splitlines()[-1:] in ([], [""]), f"heavy modules before tools/list: {res.stderr}"


def test_serve_starts_without_the_garbage_collector_and_serves_with_it(store):
    """`memcollab serve` imports with the cyclic GC off (it cost ~10% of the start-up) and turns it back on,
    the start-up objects frozen, before it serves; every other command keeps it on throughout. The stdio loop is
    replaced by a report of the collector's state (the rest is the real `serve` path)."""
    code = """
import gc, sys
sys.argv = ["memcollab", *sys.argv[1:]]
import memcollab.server.cli as cli
at_import = gc.isenabled()
def report(server):
    print(at_import, gc.isenabled(), gc.get_freeze_count() > 1000, type(server).__name__, file=sys.stderr, flush=True)
cli.run_stdio = report
sys.exit(cli.main())
"""
    serve = subprocess.run([sys.executable, "-c", code, "serve"], capture_output=True, text=True,
                           env=server_env(store), timeout=120)
    assert serve.returncode == 0, serve.stderr
    assert serve.stderr.strip().splitlines()[-1] == "False True True MCPServer"
    http = code.replace("cli.run_stdio = report", "import memcollab.server.http as h\n"
                        "h.serve = lambda memory, *a: report(memory) or 0")
    served = subprocess.run([sys.executable, "-c", http, "serve", "--transport", "http"], capture_output=True,
                            text=True, env=server_env(store), timeout=120)
    assert served.returncode == 0, served.stderr
    assert served.stderr.strip().splitlines()[-1] == "False True True Memory"
    other = subprocess.run([sys.executable, "-c", code.replace("cli.main()", "(print(at_import, gc.isenabled(), "
                            "file=sys.stderr), cli.main())[1]"), "status"],
                           capture_output=True, text=True, env=server_env(store), timeout=120)
    assert other.returncode == 0, other.stderr
    assert other.stderr.strip().splitlines()[0] == "True True"
