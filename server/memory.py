"""What the tools work on: one `Memory` per server (settings, bank, taxonomy, the background pairer, indexer
and maintainer). The tools (server/tools/) and the composition root (server/app.py) both import it; it
imports neither, so there is no circle.

Like app.py, nothing heavy (lancedb, litellm, torch, sentence-transformers) is on this module's import path.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from memcollab.distill.pairer import Pairer
from memcollab.distill.pairing import pair_unpaired
from memcollab.store.bank import Bank
from memcollab.store.embed import embedder_if_ready, get_embedder, wait_for_embedder
from memcollab.store.maintain import AutoMaintainer
from memcollab.store.task_index import TaskIndex, unresolved
from memcollab.store.vectors import Indexer

from .settings import Settings

log = logging.getLogger("memcollab.server")
SETTLE_TIMEOUT = 10.0


class Memory:
    """What the tools work on. Built once per server; cheap to construct (nothing heavy is imported)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.bank = Bank(settings.store)
        self.indexer = Indexer(self.bank, get_embedder)
        self.maintainer = AutoMaintainer(self.bank)
        self.tasks = TaskIndex(self.bank, embedder_if_ready) if settings.task_match and settings.embeddings else None
        self.pairer = Pairer(self.bank, tasks=self.tasks)

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
        if self.tasks is not None:
            self.match_when_ready()

    def match_when_ready(self, timeout: float = 3600.0) -> None:
        """Once the embedding model has loaded: hand the pairer what waited for it — this process's
        submissions and those a stopped server left unresolved (store/task_index.py)."""
        embedder = wait_for_embedder(timeout)
        if embedder is None or self.tasks is None:
            return
        try:
            todo = {t.id: t for t in unresolved(self.bank, embedder)}
        except Exception:
            log.exception("could not read the submissions left for task matching")
            todo = {}
        todo.update((t.id, t) for t in self.tasks.take_waiting())
        if todo:
            self.pairer.add((), list(todo.values()))

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
