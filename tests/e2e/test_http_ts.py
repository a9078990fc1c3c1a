"""The TypeScript MCP SDK (@modelcontextprotocol/sdk) as a client of `serve --transport http` with a bearer
token: another implementation of Streamable HTTP than the Python SDK at both ends."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from memcollab.store.bank import Bank
from memcollab.store.provenance import senders
from memcollab.store.tokens import add_token
from support.http_server import http_server

TS_DIR = Path(__file__).parents[1] / "ts_client"


def _sdk_installed() -> str | None:
    """None when the SDK is ready, else why the test cannot run."""
    if not shutil.which("node") or not shutil.which("npm"):
        return "node/npm are not installed (the TypeScript SDK client test needs node >= 18)"
    if not (TS_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir():
        try:
            out = subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=TS_DIR, capture_output=True,
                                 text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return "npm install @modelcontextprotocol/sdk timed out (no registry reachable?)"
        if out.returncode != 0:
            return f"npm install @modelcontextprotocol/sdk failed: {out.stderr.strip()[-300:]}"
    return None


def test_typescript_sdk_client(store: Path, tmp_path: Path) -> None:
    why = _sdk_installed()
    if why:
        pytest.skip(why)
    bank = Bank(store)
    token = add_token(bank, "ts-agent", "write")
    with http_server(store, tmp_path) as srv:
        out = subprocess.run(["node", "client.mjs", srv.url, token], cwd=TS_DIR, capture_output=True, text=True,
                             timeout=180)
        assert out.returncode == 0, out.stderr
        seen = json.loads(out.stdout.strip().splitlines()[-1])
        assert out.returncode == 0 and token not in srv.log_text()
    assert seen["server"]["name"] == "memcollab"
    assert {"submit_trajectory", "get_constraints", "forget"} <= set(seen["tools"])
    assert seen["submitted"]["stored"] is True
    assert seen["match"] == "none"
    assert seen["refused"]["isError"] and "scope 'admin'" in seen["refused"]["text"]
    assert seen["taxonomy_bytes"] > 100
    assert senders(bank, "trajectory", seen["submitted"]["trajectory_id"]) == ["ts-agent"]
