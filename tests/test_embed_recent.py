"""The embedder keeps the vectors of recent texts: a task text that every agent asks about, and whose
trajectories are embedded later, runs through the model once (the real packaged model)."""

from __future__ import annotations

import numpy as np

from memcollab.store import embed


def test_a_recent_text_is_not_run_through_the_model_again(monkeypatch):
    e = embed.get_embedder()
    seen: list[list[str]] = []
    real = e.compute

    def spy(texts):  # the real model, watched
        seen.append(list(texts))
        return real(texts)

    monkeypatch.setattr(e, "compute", spy)
    monkeypatch.setattr(embed, "RECENT", 3)
    e._recent.clear()
    a = e.encode(["circle area of radius 2", "count primes below 30"])
    b = e.encode(["count primes below 30", "sort a list of strings", "circle area of radius 2"])
    assert seen == [["circle area of radius 2", "count primes below 30"], ["sort a list of strings"]]
    assert np.array_equal(a[1], b[0]) and np.array_equal(a[0], b[2])
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    e.encode(["a fourth text"])  # over RECENT: the least recently used ("count primes") is dropped
    e.encode(["count primes below 30", "circle area of radius 2"])
    assert seen[-1] == ["count primes below 30"]
