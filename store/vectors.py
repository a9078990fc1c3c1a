"""Vectors for tagged tasks and for records, in an append-only table (no row is ever updated).

One row per tagged task ("task", id vt-<task_id>) and per record ("record", id vr-<record_id>), carrying the
tag, so classification (kNN vote) and vector ranking can filter by tag.

Where vectors are computed:
- where the rows are written, when the model is at hand: `memcollab import` embeds what it imported, the
  distiller embeds each record it stores (`add_record_vectors`);
- otherwise by `backfill`, in batches of BATCH, records first: the server's `Indexer` runs it in a background
  thread once the model is loaded and after writes. Submissions never wait for the model.

Reads use a per-process matrix of the table (`VectorIndex`), kept for one table version (store/cache.py):
an unchanged table costs no query, and this process's own appends extend the matrix in place. `coverage`
says how many records have a vector: until all do, an untagged query waits for the backfill (bounded) or
answers `classified_by: "partial"`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .bank import Bank, eq, is_in, retry
from .cache import Versioned, caches

log = logging.getLogger("memcollab.vectors")
BATCH = 256
_CHUNK = 1000


def table_name(dim: int) -> str:
    return f"vectors_{dim}"


def vectors_table(bank: Bank, embedder: Any) -> Any:
    import pyarrow as pa

    schema = pa.schema([("id", pa.string()), ("kind", pa.string()), ("ref_id", pa.string()),
                        ("category", pa.string()), ("subcategory", pa.string()), ("model", pa.string()),
                        ("vector", pa.list_(pa.float32(), embedder.dim))])
    return bank.table(table_name(embedder.dim), schema)


class VectorIndex:
    """One embedding model's rows of the vector table, in memory: metadata lists and an (n, dim) matrix."""

    def __init__(self, dim: int):
        import numpy as np

        self.dim = dim
        self.rows: list[dict[str, str]] = []  # id, kind, ref_id, category, subcategory
        self.ids: set[str] = set()
        self._chunks: list[Any] = [np.zeros((0, dim), dtype=np.float32)]
        self._groups: dict[tuple[str, ...], Any] | None = None
        self.records = 0

    def extend(self, rows: list[dict[str, str]], vecs: Any) -> None:
        import numpy as np

        for r in rows:
            self.rows.append({k: r[k] or "" for k in ("id", "kind", "ref_id", "category", "subcategory")})
            self.ids.add(r["id"])
            self.records += r["kind"] == "record"
        self._chunks.append(np.asarray(vecs, dtype=np.float32).reshape(-1, self.dim))
        self._groups = None

    @property
    def matrix(self) -> Any:
        import numpy as np

        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0]

    def _group(self, key: tuple[str, ...]) -> Any:
        import numpy as np

        if self._groups is None:
            groups: dict[tuple[str, ...], list[int]] = {}
            for i, r in enumerate(self.rows):
                for g in ((r["kind"],), (r["kind"], r["category"]), (r["kind"], r["category"], r["subcategory"])):
                    groups.setdefault(g, []).append(i)
            self._groups = {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}
        return self._groups.get(key, np.zeros(0, dtype=np.int64))

    def search(self, vector: Any, k: int, kind: str | None = None, category: str | None = None,
               subcategory: str | None = None) -> list[tuple[dict[str, str], float]]:
        import numpy as np

        mat = self.matrix
        if kind is None:
            idx = None
            sims = mat @ vector
        else:
            key = (kind,) + ((category,) if category is not None else ()) + (
                (subcategory,) if category is not None and subcategory is not None else ())
            idx = self._group(key)
            sims = mat[idx] @ vector if len(idx) else np.zeros(0, dtype=np.float32)
        if not len(sims):
            return []
        k = min(k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.rows[int(i) if idx is None else int(idx[i])], float(sims[i])) for i in top]


def _versioned(bank: Bank, embedder: Any) -> Versioned:
    return caches(bank).table_cache(table_name(embedder.dim), lambda: vectors_table(bank, embedder))


def _load(bank: Bank, embedder: Any, table: Any = None, idx: VectorIndex | None = None,
          extra: tuple[str, ...] = ()) -> VectorIndex:
    """The model's rows of `table` (default: the vector table) into `idx` (default: a new VectorIndex);
    `extra`: more columns each row keeps (store/task_index.py keeps the texts)."""
    import numpy as np

    idx = VectorIndex(embedder.dim) if idx is None else idx
    table = vectors_table(bank, embedder) if table is None else table
    names = ("id", "kind", "ref_id", "category", "subcategory", *extra)
    tbl = table.search().where(eq("model", embedder.name)).select([*names, "vector"]).limit(None).to_arrow()
    if tbl.num_rows:
        vec = tbl.column("vector").combine_chunks()
        mat = np.asarray(vec.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, embedder.dim)
        cols = {c: tbl.column(c).to_pylist() for c in names}
        seen: set[str] = set()
        keep = [i for i, v in enumerate(cols["id"]) if not (v in seen or seen.add(v))]
        idx.extend([{c: cols[c][i] for c in cols} for i in keep], mat[keep])
    return idx


def vector_index(bank: Bank, embedder: Any) -> VectorIndex:
    """The model's vectors as of the table's current version (reloaded only when the version moved)."""
    return _versioned(bank, embedder).get(embedder.name, lambda: _load(bank, embedder))


def nearest(bank: Bank, embedder: Any, vector: Any, k: int, kind: str | None = None, category: str | None = None,
            subcategory: str | None = None) -> list[tuple[dict[str, str], float]]:
    """The k nearest vector rows (cosine similarity, best first), optionally of one kind and tag."""
    return vector_index(bank, embedder).search(vector, k, kind, category, subcategory)


def coverage(bank: Bank, embedder: Any) -> tuple[int, int]:
    """(records with a vector, records)."""
    total = caches(bank).record_count()
    return min(vector_index(bank, embedder).records, total), total


def _insert(bank: Bank, embedder: Any, rows: list[dict[str, Any]], name: str | None = None,
            versioned: Versioned | None = None, index: Any = None) -> int:
    """Append the rows whose id has no vector yet, under the table's insert lock; returns how many. `name`,
    `versioned` and `index` (a function giving the current VectorIndex) default to the vector table's."""
    if not rows:
        return 0
    name = table_name(embedder.dim) if name is None else name
    versioned = _versioned(bank, embedder) if versioned is None else versioned
    index = (lambda: vector_index(bank, embedder)) if index is None else index

    def go() -> int:
        v = versioned.check()
        have = index().ids
        new = list({r["id"]: r for r in rows if r["id"] not in have}.values())
        if new:
            after = int(bank.appender(name).add(new).version)

            def apply(items: dict[Any, Any]) -> None:
                idx = items.get(embedder.name)
                if idx is not None:
                    idx.extend(new, [r["vector"] for r in new])

            versioned.wrote(v, after, apply)
        return len(new)

    with bank.location.insert_lock(name), versioned.lock:  # as Caches.add_trajectories
        return retry(go, "insert vectors")


def _embed_and_insert(bank: Bank, embedder: Any, rows: list[dict[str, Any]]) -> int:
    added = 0
    for i in range(0, len(rows), BATCH):
        chunk = rows[i:i + BATCH]
        vecs = embedder.encode([r.pop("text") for r in chunk])
        for r, v in zip(chunk, vecs, strict=True):
            r["vector"], r["model"] = v.tolist(), embedder.name
        added += _insert(bank, embedder, chunk)
    return added


def add_record_vectors(bank: Bank, embedder: Any, records: list[Any]) -> int:
    """Embed records just written (the distiller's path); returns how many vectors were added."""
    return _embed_and_insert(bank, embedder, [
        {"id": "vr-" + r.id, "kind": "record", "ref_id": r.id, "category": r.category,
         "subcategory": r.subcategory or "", "text": r.search_text()} for r in records])


def _missing(bank: Bank, embedder: Any) -> tuple[list[dict], list[dict]]:
    """Records and tagged tasks without a vector (texts read only for those)."""
    have = vector_index(bank, embedder).ids
    r = bank._arrow("records", ["id", "category", "subcategory"])
    todo = {"vr-" + rid: (rid, cat, sub) for rid, cat, sub in
            zip(*(r.column(c).to_pylist() for c in r.column_names), strict=True) if "vr-" + rid not in have}
    recs = []
    ids = [v[0] for v in todo.values()]
    for i in range(0, len(ids), _CHUNK):
        t = bank._arrow("records", ["id", "text"], is_in("id", ids[i:i + _CHUNK]))
        for rid, text in zip(t.column("id").to_pylist(), t.column("text").to_pylist(), strict=True):
            _, cat, sub = todo.pop("vr-" + rid, (None, None, None))
            if cat is not None:
                recs.append({"id": "vr-" + rid, "kind": "record", "ref_id": rid, "category": cat,
                             "subcategory": sub or "", "text": text})
    t = bank._arrow("trajectories", ["task_id", "category", "subcategory"], "category IS NOT NULL")
    tags: dict[str, tuple[str, str]] = {}
    for task_id, cat, sub in zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True):
        if cat and "vt-" + task_id not in have and task_id not in tags:
            tags[task_id] = (cat, sub or "")
    tasks = []
    ids = list(tags)
    for i in range(0, len(ids), _CHUNK):
        t = bank._arrow("trajectories", ["task_id", "task"], is_in("task_id", ids[i:i + _CHUNK]))
        for task_id, text in zip(t.column("task_id").to_pylist(), t.column("task").to_pylist(), strict=True):
            if task_id in tags:
                cat, sub = tags.pop(task_id)
                tasks.append({"id": "vt-" + task_id, "kind": "task", "ref_id": task_id, "category": cat,
                              "subcategory": sub, "text": text})
    return tasks, recs


def backfill(bank: Bank, embedder: Any, progress: Any = None) -> int:
    """Embed every record and tagged task that has no vector yet, records first, in batches committed one
    by one (so an untagged query sees the coverage grow); returns how many were added. `progress(done,
    total)` is called after each batch."""
    tasks, recs = _missing(bank, embedder)
    rows = recs + tasks
    added = 0
    for i in range(0, len(rows), BATCH):
        added += _embed_and_insert(bank, embedder, rows[i:i + BATCH])
        if progress is not None:
            progress(min(i + BATCH, len(rows)), len(rows))
    return added


class Indexer:
    """A background thread that backfills vectors after writes (woken by `poke`) once the model is loaded."""

    def __init__(self, bank: Bank, get_embedder: Any):
        self.bank, self.get_embedder = bank, get_embedder
        self._wake = threading.Event()
        self._advanced = threading.Condition()
        self._thread: threading.Thread | None = None
        self._seen: tuple[int, int] | None = None  # (trajectories, records) versions fully backfilled
        self.passes = 0  # backfill passes finished (with or without work)
        self.failed = False  # the last pass raised

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="memcollab-indexer", daemon=True)
            self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def wait_covered(self, embedder: Any, timeout: float) -> tuple[int, int]:
        """Wait (up to `timeout` s) until every record has a vector; returns `coverage` at the end."""
        deadline = time.monotonic() + timeout
        first = self.passes
        seen, total = coverage(self.bank, embedder)
        while seen < total and time.monotonic() < deadline:
            # a pass that began after we started waiting has ended and some records still have no vector
            # (or passes fail): more waiting would not help; the answer says "partial"
            if self.failed or self.passes >= first + 2:
                break
            self.start()
            self.poke()
            with self._advanced:
                self._advanced.wait(min(0.5, max(0.0, deadline - time.monotonic())))
            seen, total = coverage(self.bank, embedder)
        return seen, total

    def _versions(self) -> tuple[int, int]:
        return int(self.bank.table("trajectories").version), int(self.bank.table("records").version)

    def _batch_done(self, _done: int, _total: int) -> None:
        with self._advanced:
            self._advanced.notify_all()

    def _loop(self) -> None:
        try:
            embedder = self.get_embedder()
        except Exception:
            log.exception("no embedder: vectors are off")
            return
        while True:
            try:
                versions = self._versions()
                if versions != self._seen:  # nothing written since the last full pass: skip the scan
                    backfill(self.bank, embedder, self._batch_done)
                    self._seen = versions
                self.failed = False
            except Exception:
                self.failed = True
                log.exception("vector backfill failed; will retry")
            self.passes += 1
            self._batch_done(0, 0)
            self._wake.wait(30)
            self._wake.clear()
