"""One text (an untagged query) is encoded by the model's forward frozen with TorchScript: the same vectors
as the model's own encode, and used only where it gives them (the real packaged model)."""

from __future__ import annotations

import logging

import numpy as np

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
