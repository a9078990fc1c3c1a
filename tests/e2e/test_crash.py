"""Crashes: a server SIGKILLed at random moments while it writes loses no acknowledged write and leaves
nothing half-written; the server exits when its client goes away (stdin closed, or the parent dead
with stdin still open)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import MEMCOLLAB, server_env, traj
from memcollab.distill.pairing import pair_unpaired, unpaired_tasks
from memcollab.store.bank import Bank

INIT = [{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "crash", "version": "0"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"}]


def _send(proc: subprocess.Popen, msg: dict) -> None:
    proc.stdin.write((json.dumps(msg) + "\n").encode())
    proc.stdin.flush()


def _spawn(store, **env) -> subprocess.Popen:
    proc = subprocess.Popen([MEMCOLLAB, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=server_env(store, MEMCOLLAB_EMBEDDINGS="off", **env))
    for m in INIT:
        _send(proc, m)
    assert json.loads(proc.stdout.readline())["id"] == 0
    return proc


def _round(store, rnd: int, rng: random.Random) -> list[str]:
    """Submit as fast as possible, pipelined; SIGKILL after a random delay; return acknowledged ids."""
    proc = _spawn(store)
    acked: list[str] = []

    def reader() -> None:
        for line in proc.stdout:
            msg = json.loads(line)
            sc = msg.get("result", {}).get("structuredContent")
            if sc and "trajectory_id" in sc:
                acked.append(sc["trajectory_id"])

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    # the first write pays for opening the store; the kill lands at a random moment after that
    kill_at = float("inf")
    deadline = time.monotonic() + 30
    i = 0
    try:
        while time.monotonic() < min(kill_at, deadline):
            if acked and kill_at == float("inf"):
                kill_at = time.monotonic() + rng.uniform(0.0, 1.0)
            a = traj(f"crash round {rnd} task {i // 3}", f"model-{i % 3}", "correct" if i % 2 else "incorrect",
                     str(i))
            _send(proc, {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                         "params": {"name": "submit_trajectory", "arguments": a}})
            i += 1
            time.sleep(0.005)
    except BrokenPipeError:
        pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    t.join(5)
    return list(acked)


def _check_store(store, acked: set[str]) -> None:
    bank = Bank(store)  # a fresh handle: the store opens after the crash
    trajs = bank.trajectories()  # every row parses into the model: nothing half-written
    ids = [t.id for t in trajs]
    assert len(ids) == len(set(ids))
    assert acked <= set(ids), f"lost acknowledged writes: {len(acked - set(ids))}"
    known = set(ids)
    for p in bank.pairs():
        assert p.preferred_id in known and p.unpreferred_id in known
    # pairs are written just after the answer (distill/pairer.py): what the kill left unpaired is paired by
    # the next start (the next round's server) or the distiller, with this same call
    pair_unpaired(bank)
    assert unpaired_tasks(bank) == []


def _kill_rounds(tmp_path, rounds: int) -> None:
    store = tmp_path / "s"
    rng = random.Random(1234)
    acked: set[str] = set()
    for rnd in range(rounds):
        acked |= set(_round(store, rnd, rng))
        _check_store(store, acked)
    assert acked, "some writes must have been acknowledged"


def test_sigkill_while_writing_loses_no_acknowledged_write(tmp_path):
    _kill_rounds(tmp_path, 6)


@pytest.mark.slow
def test_sigkill_while_writing_many_rounds(tmp_path):
    _kill_rounds(tmp_path, 30)


EXIT_DEADLINE = 60.0  # generous: only a server that never exits fails, never a slow machine


def _has_exited(pid: int) -> bool:
    try:  # gone, or a zombie waiting for its new parent to reap it: either way it has exited
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_exits_when_stdin_closes(tmp_path):
    proc = _spawn(tmp_path / "s")
    proc.stdin.close()
    proc.wait(timeout=EXIT_DEADLINE)


def test_exits_when_the_parent_dies_while_stdin_stays_open(tmp_path):
    # The server's stdin and stdout are pipes whose other ends this test holds, so its stdin never sees
    # EOF: only noticing that its parent died can make it exit.
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    code = (f"import subprocess, sys, time\n"
            f"p = subprocess.Popen([{MEMCOLLAB!r}, 'serve'], stdin={in_r}, stdout={out_w},"
            f" stderr=subprocess.DEVNULL, pass_fds=({in_r}, {out_w}))\n"
            f"print(p.pid, flush=True)\n"
            f"time.sleep(600)\n")
    env = server_env(tmp_path / "s", MEMCOLLAB_EMBEDDINGS="off")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, pass_fds=(in_r, out_w))
    os.close(in_r)
    os.close(out_w)
    to_server, from_server = os.fdopen(in_w, "wb"), os.fdopen(out_r, "rb")
    try:
        child = int(parent.stdout.readline())
        to_server.write((json.dumps(INIT[0]) + "\n").encode())
        to_server.flush()
        assert json.loads(from_server.readline())["id"] == 0  # the server is up and serving
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + EXIT_DEADLINE
        while not _has_exited(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _has_exited(child):
            os.kill(child, signal.SIGKILL)
            pytest.fail(f"server still running {EXIT_DEADLINE:.0f} s after its parent died (stdin still open)")
    finally:
        to_server.close()
        from_server.close()
