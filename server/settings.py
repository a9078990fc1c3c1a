"""Settings from the environment (and CLI flags, which override them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_store() -> Path:
    """`$MEMCOLLAB_STORE`, else the user data directory (e.g. ~/.local/share/memcollab/store)."""
    env = os.environ.get("MEMCOLLAB_STORE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("memcollab", appauthor=False)) / "store"


@dataclass
class Settings:
    store: Path = field(default_factory=default_store)
    taxonomy_file: Path | None = field(
        default_factory=lambda: Path(p) if (p := os.environ.get("MEMCOLLAB_TAXONOMY")) else None)
    log_level: str = field(default_factory=lambda: os.environ.get("MEMCOLLAB_LOG_LEVEL", "WARNING").upper())
    warm_up: bool = True  # open the store in a background thread once the server has started
