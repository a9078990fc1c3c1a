"""Loading the packaged embedding model (store/embed.py `_load`, the real model): it keeps the hub offline unless
told otherwise, and MEMCOLLAB_TORCH_THREADS sets torch's thread count."""

from __future__ import annotations

import os

import torch

from memcollab.store import embed


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
