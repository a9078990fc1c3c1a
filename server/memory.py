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
