"""Shared fixtures: real LanceDB stores in temp dirs, in-memory MCP clients, real stdio servers."""

from __future__ import annotations

import os

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import json
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from memcollab.store.bank import Bank

VENV_BIN = Path(sys.executable).parent
MEMCOLLAB = str(VENV_BIN / "memcollab")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def bank(store: Path) -> Bank:
    return Bank(store)


def server_env(store: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMCOLLAB_")}
    env.update({"MEMCOLLAB_STORE": str(store), "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1"})
    env.update(extra)
    return env


@asynccontextmanager
async def memory_client(store: Path, **settings: Any):
    """An in-memory MCP Client connected to a fresh server over `store`."""
    from mcp import Client

    from memcollab.server.app import create_server
    from memcollab.server.settings import Settings

    server = create_server(Settings(store=store, warm_up=False, **settings))
    async with Client(server, mode="legacy") as client:
        yield client


@asynccontextmanager
async def stdio_client(store: Path, *args: str, **env: str):
    """A real `memcollab serve` subprocess, spoken to over stdio."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=MEMCOLLAB, args=["serve", *args], env=server_env(store, **env))
    async with Client(params, mode="legacy") as client:
        yield client


async def call(client: Any, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a tool that must succeed; return its structured result."""
    r = await client.call_tool(tool, args or {})
    assert not r.is_error, r.content[0].text if r.content else r
    return r.structured_content


async def pairs_written(client: Any) -> None:
    """The server writes contrast pairs just after it answers a submission (distill/pairer.py); a read of the
    server's own (memory_status here) writes what is queued first. Call before reading pairs from the store."""
    await call(client, "memory_status")


async def call_error(client: Any, tool: str, args: dict[str, Any]) -> str:
    """Call a tool that must fail; return its error text."""
    r = await client.call_tool(tool, args)
    assert r.is_error, f"expected an error, got {r.structured_content}"
    return r.content[0].text


def traj(task: str, model: str, outcome: str, answer: str = "42", **kw: Any) -> dict[str, Any]:
    return {"task": task, "model": model, "outcome": outcome, "final_answer": answer,
            "steps": kw.pop("steps", [f"{model} reasons about it", f"so the answer is {answer}"]), **kw}


def record_line(category: str, subcategory: str, task: str, *constraints: tuple[str, str, str]) -> str:
    return json.dumps({"type": "record", "category": category, "subcategory": subcategory, "task": task,
                       "constraints": [{"when": w, "enforce": e, "avoid": a} for w, e, a in constraints]})


def import_records(bank: Bank, lines: list[str]) -> None:
    from memcollab.store.transfer import import_jsonl

    report = import_jsonl(bank, lines, progress=lambda _m: None)
    assert not report["errors"], report["errors"]
