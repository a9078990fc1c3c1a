"""Vectors for tagged tasks and for records, in an append-only table (no row is ever updated).

One row per tagged task ("task", id vt-<task_id>) and per record ("record", id vr-<record_id>), carrying the
tag so classification (kNN vote) and vector ranking filter in LanceDB. Rows are added by `backfill`, which
embeds whatever lacks a vector: the server runs it in a background thread once the model is loaded and after
writes; distillation and import run it too. Submissions never wait for the model.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from .bank import Bank, eq

log = logging.getLogger("memcollab.vectors")
BATCH = 256


def table_name(dim: int) -> str:
    return f"vectors_{dim}"


def vectors_table(bank: Bank, embedder: Any) -> Any:
    import pyarrow as pa

    schema = pa.schema([("id", pa.string()), ("kind", pa.string()), ("ref_id", pa.string()),
                        ("category", pa.string()), ("subcategory", pa.string()), ("model", pa.string()),
                        ("vector", pa.list_(pa.float32(), embedder.dim))])
    return bank.table(table_name(embedder.dim), schema)


def _missing(bank: Bank, embedder: Any) -> tuple[list[dict], list[dict]]:
    have = set(vectors_table(bank, embedder).search().where(eq("model", embedder.name)).select(["id"])
               .limit(None).to_arrow().column("id").to_pylist())
    tasks: dict[str, dict] = {}
    t = bank._arrow("trajectories", ["task_id", "task", "category", "subcategory"], "category IS NOT NULL")
    for task_id, task, cat, sub in zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True):
        vid = "vt-" + task_id
        if vid not in have and vid not in tasks and cat:
            tasks[vid] = {"id": vid, "kind": "task", "ref_id": task_id, "category": cat, "subcategory": sub or "",
                          "text": task}
    recs = []
    r = bank._arrow("records", ["id", "category", "subcategory", "text"])
    for rid, cat, sub, text in zip(*(r.column(c).to_pylist() for c in r.column_names), strict=True):
        vid = "vr-" + rid
        if vid not in have:
            recs.append({"id": vid, "kind": "record", "ref_id": rid, "category": cat, "subcategory": sub or "",
                         "text": text})
    return list(tasks.values()), recs


def backfill(bank: Bank, embedder: Any) -> int:
    """Embed every tagged task and record that has no vector yet; returns how many were added."""
    tasks, recs = _missing(bank, embedder)
    rows = tasks + recs
    vectors_table(bank, embedder)
    name = table_name(embedder.dim)
    added = 0
    for i in range(0, len(rows), BATCH):
        chunk = rows[i:i + BATCH]
        vecs = embedder.encode([r.pop("text") for r in chunk])
        for r, v in zip(chunk, vecs, strict=True):
            r["vector"], r["model"] = v.tolist(), embedder.name
        added += bank._insert(name, chunk)
    return added


def nearest(bank: Bank, embedder: Any, vector: Any, where: str | None, k: int) -> list[tuple[dict, float]]:
    """The k nearest vector rows (cosine similarity, best first) inside a filter."""
    tbl = vectors_table(bank, embedder)
    flt = eq("model", embedder.name) + (f" AND ({where})" if where else "")
    rows = (tbl.search(vector, vector_column_name="vector").distance_type("dot").where(flt, prefilter=True)
            .select(["id", "kind", "ref_id", "category", "subcategory", "_distance"]).limit(k).to_list())
    return [(r, 1.0 - float(r["_distance"])) for r in rows]


class Indexer:
    """A background thread that backfills vectors after writes (woken by `poke`) once the model is loaded."""

    def __init__(self, bank: Bank, get_embedder: Any):
        self.bank, self.get_embedder = bank, get_embedder
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="memcollab-indexer", daemon=True)
            self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        try:
            embedder = self.get_embedder()
        except Exception:
            log.exception("no embedder: vectors are off")
            return
        while True:
            try:
                backfill(self.bank, embedder)
            except Exception:
                log.exception("vector backfill failed; will retry")
            self._wake.wait(30)
            self._wake.clear()
