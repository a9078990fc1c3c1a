"""Task matching: a submission that restates a stored task in other words joins that task.

Live clients never phrase one task the same way, and tasks meet only on one task id, so without this no two
models' trajectories on "the same" task ever contrast. What it merges is decided in store/task_match.py
(`same_task`: the texts' similarity at least THRESHOLD, every anchor — numbers, quoted strings, identifiers,
direction words — agrees, and the tags agree when both are tagged); this module applies it to the bank.

When: just after the answer, in the server's pairer thread (distill/pairer.py hands `resolve` the
trajectories it stored), so a submission still costs one append, with or without the model. Until the
embedding model has loaded the trajectories wait in memory (`waiting`) and are resolved when it has (the
server wakes the pairer then); a server stopped before that leaves them to `unresolved`, which the next start
resolves.

What it writes, for each new task text (one row per text, never updated, in task_texts_<dim>):
- a row (id "vm-<text id>", ref_id the task the text belongs to, its tags, the text, its vector), so later
  submissions can match it;
- when the text joins another task: a link (task_links: the text's own id → the task, with the score), and its
  trajectories move to that task (task_id, and task_match {"by": "similar", "score", "task"}). Submissions of a
  linked text go straight to the joined task (store/cache.py `follow_links`, at the append).
Only submissions that named no task_id are joined ("text"); a caller's task_id always wins ("id"), but its text
gets a row, so other clients' paraphrases can join it. A task that already has contrast pairs is never moved.
Tasks stored before matching existed (or imported) get a row when a new submission reaches them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .bank import Bank, _traj_row, arrow_rows, eq, is_in, retry
from .cache import caches
from .models import TaskMatch, Trajectory, now, task_id_for
from .vectors import VectorIndex, _insert, _load

log = logging.getLogger("memcollab.task_index")
K = 5  # nearest task texts considered per new text
MAX_WAITING = 20_000  # trajectories kept for matching while the model loads (beyond: `unresolved` finds them)


def table_name(dim: int) -> str:
    return f"task_texts_{dim}"


def texts_table(bank: Bank, embedder: Any) -> Any:
    import pyarrow as pa

    schema = pa.schema([("id", pa.string()), ("kind", pa.string()), ("ref_id", pa.string()),
                        ("category", pa.string()), ("subcategory", pa.string()), ("model", pa.string()),
                        ("text", pa.string()), ("vector", pa.list_(pa.float32(), embedder.dim))])
    return bank.table(table_name(embedder.dim), schema)


class TextIndex(VectorIndex):
    """The task texts' rows in memory: a VectorIndex that also keeps each row's text."""

    def __init__(self, dim: int):
        super().__init__(dim)
        self.by_id: dict[str, dict[str, str]] = {}

    def extend(self, rows: list[dict[str, Any]], vecs: Any) -> None:
        super().extend(rows, vecs)
        for r in rows:
            self.by_id[r["id"]] = {"ref_id": r["ref_id"], "category": r["category"] or "",
                                   "subcategory": r["subcategory"] or "", "text": r["text"]}


def _versioned(bank: Bank, embedder: Any) -> Any:
    return caches(bank).table_cache(table_name(embedder.dim), lambda: texts_table(bank, embedder))


def text_index(bank: Bank, embedder: Any) -> TextIndex:
    return _versioned(bank, embedder).get(embedder.name, lambda: _load(
        bank, embedder, texts_table(bank, embedder), TextIndex(embedder.dim), ("text",)))


def row_id(text: str) -> str:
    return "vm-" + task_id_for(text)


def _tag(category: str | None, subcategory: str | None) -> tuple[str | None, str | None]:
    return (category or None, subcategory or None)


def best_match(index: TextIndex, text: str, vector: Any, tag: tuple[str | None, str | None], own_task: str,
               extra: list[tuple[dict[str, str], Any]] = ()) -> tuple[str, float] | None:
    """The task `text` restates, as (task id, similarity), or None: the most similar stored texts (and `extra`,
    rows of the same batch with their vectors) that pass `same_task`, best first."""
    from .task_match import THRESHOLD, same_task

    found = [(index.by_id[r["id"]], s) for r, s in index.search(vector, K, kind="task")]
    found += [(row, float(v @ vector)) for row, v in extra]
    for row, sim in sorted(found, key=lambda x: -x[1])[:K]:
        if sim < THRESHOLD:
            break
        if row["ref_id"] == own_task:
            continue
        if same_task(text, row["text"], sim, tag, _tag(row["category"], row["subcategory"])) is None:
            return row["ref_id"], round(sim, 4)
    return None


class TaskIndex:
    """Resolves the tasks of just-stored trajectories (one per server; called from the pairer thread)."""

    def __init__(self, bank: Bank, embedder: Callable[[], Any]):
        self.bank = bank
        self.embedder = embedder  # the model if loaded, else None (never waits)
        self._waiting: dict[str, Trajectory] = {}
        self._lock = threading.Lock()
        self.joined = 0  # texts this process joined to another task

    def take_waiting(self) -> list[Trajectory]:
        with self._lock:
            out, self._waiting = list(self._waiting.values()), {}
        return out

    def wait(self, ts: Iterable[Trajectory]) -> None:
        with self._lock:
            for t in ts:
                if len(self._waiting) < MAX_WAITING:
                    self._waiting.setdefault(t.id, t)

    def resolve(self, ts: list[Trajectory]) -> set[str]:
        """Match and index the tasks of these stored trajectories; returns the tasks they were moved to (to
        pair). Without the model: nothing yet; they wait for it."""
        ts = [t for t in ts if t.task_match is not None]
        if not ts:
            return set()
        embedder = self.embedder()
        if embedder is None:
            self.wait(ts)
            return set()
        # Held across the search and the writes: of two processes matching paraphrases at once, the later one
        # sees the earlier one's row.
        with self.bank.location.insert_lock("task_match"):
            return retry(lambda: self._resolve(embedder, ts), "match tasks")

    def _resolve(self, embedder: Any, ts: list[Trajectory]) -> set[str]:
        index = text_index(self.bank, embedder)
        by_text: dict[str, Trajectory] = {}
        for t in ts:
            by_text.setdefault(row_id(t.task), t)
        moved: set[str] = set()
        new = {rid: t for rid, t in by_text.items() if rid not in index.ids}
        for rid, t in by_text.items():  # a text joined meanwhile whose submission went to its own id (a race)
            row = index.by_id.get(rid)
            if row is not None and t.task_match.by == "text" and t.task_id == rid[3:] != row["ref_id"]:
                link = caches(self.bank).task_links().get(t.task_id)
                self._move(t.task_id, row["ref_id"], link[1] if link else None, write_link=link is None)
                moved.add(row["ref_id"])
        if not new:
            return moved
        from .task_match import canonical

        vectors = embedder.encode([canonical(t.task) for t in new.values()])
        _, pairs = caches(self.bank).task_pairs(t.task_id for t in new.values())
        rows, batch = [], []
        for (rid, t), vec in zip(new.items(), vectors, strict=True):
            ref = t.task_id
            if t.task_match.by == "text" and not pairs[t.task_id]:
                found = best_match(index, t.task, vec, _tag(t.category, t.subcategory), t.task_id, batch)
                if found is not None:
                    ref, score = found
                    self._move(t.task_id, ref, score)
                    moved.add(ref)
            row = {"id": rid, "kind": "task", "ref_id": ref, "category": t.category or "",
                   "subcategory": t.subcategory or "", "model": embedder.name, "text": t.task,
                   "vector": vec.tolist()}
            rows.append(row)
            batch.append(({"ref_id": ref, "category": row["category"], "subcategory": row["subcategory"],
                           "text": t.task}, vec))
        _insert(self.bank, embedder, rows, table_name(embedder.dim), _versioned(self.bank, embedder),
                lambda: text_index(self.bank, embedder))
        return moved

    def _move(self, old: str, new: str, score: float | None, write_link: bool = True) -> None:
        """Join task text `old` (its own id) to task `new`: the link first, then its trajectories, under the
        trajectories' insert lock, so a submission of the same text lands on one side of the move."""
        c = caches(self.bank)
        match = TaskMatch(by="similar", task=new, score=score)
        with self.bank.location.insert_lock("trajectories"):
            if write_link:
                with self.bank.location.insert_lock("task_links"):
                    if old not in c.task_links():
                        self.bank.appender("task_links").add(arrow_rows("task_links", [
                            {"id": old, "task_id": new, "score": score, "created_at": now()}]))
            tbl = self.bank.table("trajectories")
            for t in self.bank.trajectories(f"{eq('task_id', old)}"):
                if t.task_match is not None and t.task_match.by != "text":
                    continue
                row = _traj_row(t.model_copy(update={"task_id": new, "task_match": match}))
                retry(lambda t=t, row=row: tbl.update(where=f"{eq('id', t.id)} AND {eq('task_id', old)}",
                                                      values={"task_id": new, "metadata": row["metadata"]}),
                      "move a trajectory to the task it restates")
        self.joined += 1
        log.info("task %s joined task %s (similarity %s)", old, new, score)


def unresolved(bank: Bank, embedder: Any, limit: int = MAX_WAITING) -> list[Trajectory]:
    """Trajectories a server recorded the task match of but never resolved (it stopped before the model had
    loaded): those whose text has no row yet."""
    index = text_index(bank, embedder)
    tbl = bank._arrow("trajectories", ["id", "task"], "metadata LIKE '%\"memcollab.task_match\"%'")
    todo: dict[str, str] = {}
    for tid, text in zip(tbl.column("id").to_pylist(), tbl.column("task").to_pylist(), strict=True):
        rid = row_id(text)
        if rid not in index.ids:
            todo.setdefault(rid, tid)
    ids = list(todo.values())[:limit]
    return [t for i in range(0, len(ids), 500) for t in bank.trajectories(is_in("id", ids[i:i + 500]))]


def match_counts(bank: Bank) -> dict[str, int]:
    """Trajectories by how their task was found: "id", "text", "similar" (the rest were stored before task
    matching existed, imported, or written directly: they record nothing)."""
    out = {}
    for by in ("id", "text", "similar"):
        n = bank.count("trajectories", f"metadata LIKE '%\"memcollab.task_match\": {{\"by\": \"{by}\"%'")
        if n:
            out[by] = n
    return out
