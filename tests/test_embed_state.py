"""The embedding model's load state as memory_status reports it: not loaded, loading, ready."""

from __future__ import annotations

import threading

from memcollab.store import embed


def test_the_state_moves_from_not_loaded_through_loading_to_ready(monkeypatch):
    # fresh flags: this process's model may be loaded already by another test
    for flag in ("_ready", "_started"):
        monkeypatch.setattr(embed, flag, threading.Event())
    monkeypatch.setattr(embed, "_lock", threading.Lock())
    assert embed.state() == "not loaded"
    assert embed.embedder_if_ready() is None
    with embed._lock:  # a load holds the lock while it runs
        assert embed.state() == "loading"
    embed._started.set()  # a background load was asked for and has not finished
    assert embed.state() == "loading"
    embed._ready.set()
    assert embed.state() == "ready"
