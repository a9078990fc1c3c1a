"""build and eval talk to the bank as a user's agent does: a real MCP client speaking to `memcollab serve`
spawned over stdio on the chosen store, through the real tools (submit_trajectory, get_constraints,
memory_status). The server inherits this process's environment (MEMCOLLAB_* settings included).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from memcollab.store.models import MAX_ANSWER, MAX_STEP, MAX_STEPS, MAX_TRAJECTORY

from .agent import Trajectory, model_name

AGENT = "memcollab-eval"


class BankError(RuntimeError):
    pass


def submission(t: Trajectory) -> dict[str, Any]:
    """The submit_trajectory arguments for a verified trajectory, cut to the server's limits."""
    budget = MAX_TRAJECTORY - len(t.task.text) - MAX_ANSWER
    steps: list[str] = []
    for s in t.steps[:MAX_STEPS]:
        s = s[:MAX_STEP][:max(budget, 0)]
        budget -= len(s)
        steps.append(s)
    args: dict[str, Any] = {
        "task": t.task.text, "model": t.name, "final_answer": t.final_answer[:MAX_ANSWER],
        "outcome": "correct" if t.correct else "incorrect", "steps": steps, "task_id": t.task.id, "agent": AGENT,
        "metadata": {"label_source": "verifier", "turns": t.turns, "correct_at_turn1": t.correct_at_turn1,
                     "kind": t.task.kind}}
    if t.task.category:
        args["category"] = t.task.category
        if t.task.subcategory:
            args["subcategory"] = t.task.subcategory
    return args


class BankClient:
    def __init__(self, client: Any, store: str | Path):
        self.client, self.store = client, store

    async def _call(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        r = await self.client.call_tool(tool, args)
        if r.is_error:
            text = r.content[0].text if r.content else "no detail"
            raise BankError(f"{tool} on {self.store}: {text}")
        return r.structured_content or {}

    async def submit(self, t: Trajectory) -> dict[str, Any]:
        if t.failed:
            raise ValueError("a failed trajectory (provider error) has no verified outcome and is never submitted")
        return await self.submit_arguments(submission(t))

    async def submit_arguments(self, args: dict[str, Any]) -> dict[str, Any]:
        """submit_trajectory with arguments already made (`submission`'s, changed by the caller)."""
        return await self._call("submit_trajectory", args)

    async def guidance(self, task: Any, model: str, limit: int = 3) -> str:
        """get_constraints, task-aware: tagged with the task's own tag when it has one (else the server
        classifies it); returns the ready-to-paste guidance block ('' when the bank has nothing)."""
        args: dict[str, Any] = {"task": task.text, "model": model_name(model), "limit": limit}
        if task.category:
            args["category"] = task.category
            if task.subcategory:
                args["subcategory"] = task.subcategory
        return (await self._call("get_constraints", args)).get("guidance") or ""

    async def status(self) -> dict[str, Any]:
        return await self._call("memory_status", {})


@asynccontextmanager
async def open_bank(store: str | Path) -> AsyncIterator[BankClient]:
    """`store`: a directory (created) or an object-store URI, as `memcollab serve --store` takes it."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    if isinstance(store, Path):
        store.mkdir(parents=True, exist_ok=True)
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "memcollab.server.cli", "serve", "--store", str(store)],
                                   env=dict(os.environ))
    # the server's stderr goes to this process's stderr of now (stdio_client's default is the one at its import)
    async with Client(stdio_client(params, errlog=sys.stderr), mode="legacy") as client:
        yield BankClient(client, store)
