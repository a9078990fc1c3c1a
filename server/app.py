"""The composition root: one `Memory` (settings, bank, taxonomy) and the MCPServer whose tools use it.

Heavy imports (lancedb, litellm, torch, sentence-transformers) stay out of this module's import path:
the store opens in a background thread after the server has started answering.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from typing import Any

import anyio
from mcp.server import MCPServer

from memcollab.distill.pairer import Pairer
from memcollab.distill.pairing import pair_unpaired
from memcollab.store.bank import Bank, store_problem
from memcollab.store.embed import embedder_if_ready, get_embedder, wait_for_embedder
from memcollab.store.maintain import AutoMaintainer
from memcollab.store.vectors import Indexer

from .settings import Settings

log = logging.getLogger("memcollab.server")
SETTLE_TIMEOUT = 10.0

INSTRUCTIONS = """memcollab is a memory shared by agents built on different models. Before solving a task, call
get_constraints with the task (and its category/subcategory from the memcollab://taxonomy resource if you
know them) and read the returned guidance as advice. After solving it, call submit_trajectory with your steps,
final answer and whether it was correct: correct and incorrect attempts by different models on the same task
are contrasted offline into abstract constraints that help every agent."""


class Memory:
    """What the tools work on. Built once per server; cheap to construct (nothing heavy is imported)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.bank = Bank(settings.store)
        self.indexer = Indexer(self.bank, get_embedder)
        self.maintainer = AutoMaintainer(self.bank)
        self.pairer = Pairer(self.bank)

    @cached_property
    def taxonomy(self) -> Any:
        from memcollab.store.taxonomy import load_taxonomy

        return load_taxonomy(self.settings.taxonomy_file)

    def warm_up(self) -> None:
        try:
            for name in ("trajectories", "pairs", "records", "feedback"):
                self.bank.table(name)
            pair_unpaired(self.bank)  # tasks a stopped server acknowledged but did not pair
        except Exception:  # a warm-up failure must not kill the server; the call that needs it will say why
            log.exception("warm-up failed")
        if self.settings.embeddings:
            self.indexer.start()  # loads the embedding model, then keeps vectors filled in

    def embedder(self, wait: bool) -> Any:
        """The embedding model if loaded; with wait, start loading it and wait up to settings.embed_wait."""
        ready = embedder_if_ready() if self.settings.embeddings else None
        if ready is not None or not wait or not self.settings.embeddings:
            return ready
        self.indexer.start()
        return wait_for_embedder(self.settings.embed_wait)

    def pairs_settled(self) -> None:
        """Before a read of pairs: what this process queued for pairing is written (distill/pairer.py)."""
        if not self.pairer.settle(SETTLE_TIMEOUT):
            log.warning("pairing is behind (over %.0f s); this answer may miss the newest pairs", SETTLE_TIMEOUT)

    def written(self) -> None:
        """After a write: wake the indexer (it runs only once the model is loaded) and count towards the
        next automatic maintenance."""
        self.indexer.poke()
        self.maintainer.wrote()


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
