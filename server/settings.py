"""Settings from the environment (and CLI flags, which override them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def default_store() -> Path | str:
    """`$MEMCOLLAB_STORE` (a directory, or s3:// gs:// az:// URI), else the user data directory
    (e.g. ~/.local/share/memcollab/store)."""
    env = os.environ.get("MEMCOLLAB_STORE")
    if env:
        from memcollab.store.location import store_arg

        return store_arg(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("memcollab", appauthor=False)) / "store"


@dataclass
class Settings:
    store: Path | str = field(default_factory=default_store)  # a str only for an object-store URI
    taxonomy_file: Path | None = field(
        default_factory=lambda: Path(p) if (p := os.environ.get("MEMCOLLAB_TAXONOMY")) else None)
    log_level: str = field(default_factory=lambda: os.environ.get("MEMCOLLAB_LOG_LEVEL", "WARNING").upper())
    warm_up: bool = True  # open the store and load the embedding model in background threads after start
    # Embeddings (classification of untagged tasks, vector/hybrid ranking, dedup); MEMCOLLAB_EMBEDDINGS=off
    # keeps torch out of the process entirely (BM25 and caller tags only).
    embeddings: bool = field(
        default_factory=lambda: os.environ.get("MEMCOLLAB_EMBEDDINGS", "on").lower() not in ("0", "off", "false"))
    rank: str = field(default_factory=lambda: os.environ.get("MEMCOLLAB_RANK", "bm25"))
    # How long an untagged get_constraints (or vector/hybrid ranking) waits for the embedding model to
    # finish loading before it answers without it (BM25 over all records, classified_by "none").
    embed_wait: float = field(default_factory=lambda: float(os.environ.get("MEMCOLLAB_EMBED_WAIT", "20")))
    # Task matching (store/task_index.py): an untagged submission that restates a stored task joins it. Needs
    # the embedding model; MEMCOLLAB_TASK_MATCH=off (or `serve --task-match off`) keeps tasks to exact texts.
    task_match: bool = field(
        default_factory=lambda: os.environ.get("MEMCOLLAB_TASK_MATCH", "on").lower() not in ("0", "off", "false"))

    @classmethod
    def from_args(cls, args: Any) -> Settings:
        """The environment's settings, with `--store` from the command line when given."""
        s = cls()
        if getattr(args, "store", None):
            from memcollab.store.location import store_arg

            s.store = store_arg(args.store)
        return s
