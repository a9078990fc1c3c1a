"""The composition root: the MCPServer, its tools (server/tools/) and the `Memory` they work on
(server/memory.py).

Heavy imports (lancedb, litellm, torch, sentence-transformers) stay out of this module's import path:
the store opens in a background thread after the server has started answering.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from mcp.server import MCPServer

from memcollab.store.bank import store_problem

from .memory import Memory  # re-exported: memcollab.server.app.Memory as before
from .settings import Settings

log = logging.getLogger("memcollab.server")

INSTRUCTIONS = """memcollab is a memory shared by agents built on different models. Before solving a task, call
get_constraints with the task (and its category/subcategory from the memcollab://taxonomy resource if you
know them) and read the returned guidance as advice. After solving it, call submit_trajectory with your steps,
final answer and whether it was correct: correct and incorrect attempts by different models on the same task
are contrasted offline into abstract constraints that help every agent."""


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("memcollab")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


def create_server(settings: Settings | None = None, memory: Memory | None = None) -> MCPServer:
    memory = memory or Memory(settings or Settings())

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[Memory]:
        problem = store_problem(memory.settings.store)
        if problem:  # logged once here; every tool call answers with the same message
            log.error("%s (every tool call answers with this message until it is fixed)",
                      problem)
        elif memory.settings.warm_up:
            threading.Thread(target=memory.warm_up, name="memcollab-warm-up", daemon=True).start()
        try:
            yield memory
        finally:
            await anyio.to_thread.run_sync(memory.pairer.close)

    server = MCPServer("memcollab", version=package_version(), instructions=INSTRUCTIONS, lifespan=lifespan,
                       log_level=memory.settings.log_level)  # type: ignore[arg-type]
    from .tools import register_all

    register_all(server, memory)
    return server
