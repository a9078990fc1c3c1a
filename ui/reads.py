"""What the dashboard's pages show, read from the bank through its public functions (no writes here).

Every page reads the store afresh (the bank sees other processes' writes), so a reload shows the latest
data. Lists are paged: at 100k records a page reads two columns of the whole table to sort, then fetches
only the rows it shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from memcollab.store.bank import Bank, eq, is_in
from memcollab.store.models import ContrastPair, MemoryRecord, Trajectory

PAGE = 50


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    pages: int


def _page_of(total: int, page: int) -> tuple[int, int]:
    pages = max(1, -(-total // PAGE))
    page = min(max(1, page), pages)
    return page, pages


def record_index(bank: Bank) -> Any:
    """(id, support, category, subcategory) of every record: one scan per records version serves the filter
    menus and every page of every tag filter (about 7 MB at 100k records)."""
    return (bank.table("records").search().select(["id", "support", "category", "subcategory"])
            .with_row_id(True).limit(None).to_arrow())


def categories(index: Any) -> dict[str, dict[str, int]]:
    """{category: {subcategory: records}}, for the filter menus."""
    counts = index.group_by(["category", "subcategory"]).aggregate([([], "count_all")])
    out: dict[str, dict[str, int]] = {}
    for c, s, n in zip(*(counts.column(i).to_pylist() for i in range(3)), strict=True):
        sub = out.setdefault(c or "", {})
        sub[s or ""] = sub.get(s or "", 0) + n
    return dict(sorted(out.items()))


def record_page(bank: Bank, index: Any, category: str | None, subcategory: str | None, page: int) -> Page:
    """Records inside the tag filter, most supported first (ties in table order: a stable sort on one integer
    column is ~20× cheaper at 100k rows than adding the id as a second key), one page."""
    import pyarrow.compute as pc

    for column, value in (("category", category), ("subcategory", subcategory)):
        if value:
            index = index.filter(pc.equal(index[column], value))
    rows, total, page, pages = _page_rows(index, "support", page)
    ids = rows.column("id").to_pylist()
    try:
        records = bank.records_at(rows.column("_rowid").to_pylist())
    except Exception:  # the table was compacted since the index was read: row ids moved
        records = []
    if [r.id for r in records] != ids:
        found = bank.get_records(ids)
        records = [found[i] for i in ids if i in found]
    return Page(records, total, page, pages)


def _page_rows(tbl: Any, sort_column: str, page: int) -> tuple[Any, int, int, int]:
    """One page of an Arrow table sorted on one column, largest first: (rows, total, page, pages)."""
    import pyarrow.compute as pc

    total = tbl.num_rows
    page, pages = _page_of(total, page)
    order = pc.sort_indices(tbl, sort_keys=[(sort_column, "descending")])
    return tbl.take(order[(page - 1) * PAGE: page * PAGE]), total, page, pages


@dataclass
class RecordView:
    record: MemoryRecord
    helped: int = 0
    not_helped: int = 0
    by_model: dict[str, dict[str, int]] = field(default_factory=dict)


def with_feedback(bank: Bank, records: list[MemoryRecord]) -> list[RecordView]:
    if not records:
        return []
    counts = bank.feedback_counts([r.id for r in records])
    return [RecordView(r, counts.get(r.id, {}).get("helped", 0), counts.get(r.id, {}).get("not_helped", 0))
            for r in records]


def record_detail(bank: Bank, record_id: str) -> RecordView | None:
    rec = bank.get_records([record_id]).get(record_id)
    if rec is None:
        return None
    view = with_feedback(bank, [rec])[0]
    tbl = bank._arrow("feedback", ["model", "helped"], eq("record_id", record_id))
    for model, helped in zip(tbl.column("model").to_pylist(), tbl.column("helped").to_pylist(), strict=True):
        c = view.by_model.setdefault(model or "(unnamed)", {"helped": 0, "not_helped": 0})
        c["helped" if helped else "not_helped"] += 1
    return view


@dataclass
class TaskRow:
    task_id: str
    task: str
    trajectories: int
    correct: int
    incorrect: int
    models: list[str]
    pairs: dict[str, int]


def task_page(bank: Bank, page: int) -> Page:
    """Tasks with the most trajectories first."""
    tbl = bank._arrow("trajectories", ["task_id", "outcome", "model"])
    by_task: dict[str, dict[str, Any]] = {}
    for tid, outcome, model in zip(*(tbl.column(c).to_pylist() for c in ("task_id", "outcome", "model")),
                                   strict=True):
        t = by_task.setdefault(tid, {"n": 0, "correct": 0, "incorrect": 0, "models": set()})
        t["n"] += 1
        t["models"].add(model)
        if outcome in ("correct", "incorrect"):
            t[outcome] += 1
    order = sorted(by_task, key=lambda k: (-by_task[k]["n"], k))
    page, pages = _page_of(len(order), page)
    ids = order[(page - 1) * PAGE: page * PAGE]
    texts: dict[str, str] = {}
    pairs: dict[str, dict[str, int]] = {}
    if ids:
        rows = bank._arrow("trajectories", ["task_id", "task"], is_in("task_id", ids))
        for tid, text in zip(rows.column("task_id").to_pylist(), rows.column("task").to_pylist(), strict=True):
            texts.setdefault(tid, text)
        prow = bank._arrow("pairs", ["task_id", "status"], is_in("task_id", ids))
        for tid, st in zip(prow.column("task_id").to_pylist(), prow.column("status").to_pylist(), strict=True):
            pairs.setdefault(tid, {})
            pairs[tid][st] = pairs[tid].get(st, 0) + 1
    items = [TaskRow(t, texts.get(t, ""), by_task[t]["n"], by_task[t]["correct"], by_task[t]["incorrect"],
                     sorted(by_task[t]["models"]), pairs.get(t, {})) for t in ids]
    return Page(items, len(order), page, pages)


def pair_page(bank: Bank, status: str | None, page: int) -> Page:
    where = eq("status", status) if status else None
    rows, total, page, pages = _page_rows(bank._arrow("pairs", ["id", "updated_at"], where), "updated_at", page)
    ids = rows.column("id").to_pylist()
    found = {p.id: p for p in bank.pairs(is_in("id", ids))} if ids else {}
    return Page([found[i] for i in ids if i in found], total, page, pages)


@dataclass
class Verdict:
    pair_id: str
    verdict: str
    reason: str
    text: str
    distiller: str


@dataclass
class TaskDetail:
    task_id: str
    task: str
    trajectories: list[Trajectory]
    pairs: list[ContrastPair]
    records: list[RecordView]
    rejected: list[Verdict]
    merged: list[Verdict]


def task_detail(bank: Bank, task_id: str) -> TaskDetail | None:
    trajs = bank.trajectories_for_task(task_id)
    pairs = bank.pairs(eq("task_id", task_id))
    if not trajs and not pairs:
        return None
    trajs.sort(key=lambda t: (t.outcome != "correct", t.model, t.created_at))
    pairs.sort(key=lambda p: p.created_at)
    record_ids = list(dict.fromkeys(r for p in pairs for r in p.record_ids))
    recs = bank.get_records(record_ids)
    verdicts: list[Verdict] = []
    if pairs:
        rows = bank._select("verdicts", is_in("pair_id", [p.id for p in pairs]))
        verdicts = [Verdict(r["pair_id"], r["verdict"], r["reason"] or "", r["text"] or "", r["distiller"] or "")
                    for r in rows]
    return TaskDetail(task_id=task_id, task=trajs[0].task if trajs else "", trajectories=trajs, pairs=pairs,
                      records=with_feedback(bank, [recs[i] for i in record_ids if i in recs]),
                      rejected=[v for v in verdicts if v.verdict == "rejected"],
                      merged=[v for v in verdicts if v.verdict == "merged"])


def pretty_metadata(t: Trajectory) -> str:
    return json.dumps(t.metadata, ensure_ascii=False, indent=1) if t.metadata else ""


class VersionCache:
    """Page data kept while the tables it was read from stay at the same version. Checking a table's version
    costs well under a millisecond, so every request still looks, and a reload after any write (from any
    process) recomputes; an unchanged bank is not scanned again for each page view."""

    def __init__(self, bank: Bank, size: int = 128):
        import threading
        from collections import OrderedDict

        self.bank, self.size = bank, size
        self._items: OrderedDict[Any, tuple[tuple[int, ...], Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, tables: tuple[str, ...], compute: Any) -> Any:
        # the versions are read before computing: a write landing meanwhile makes the next request recompute
        versions = tuple(int(self.bank.table(t).version) for t in tables)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == versions:
                self._items.move_to_end(key)
                return hit[1]
        value = compute()
        with self._lock:
            self._items[key] = (versions, value)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


class CachedBank:
    """The read methods `bank_status` uses, each answer kept per version of the one table it reads: after a
    feedback report only the feedback counts are read again, not every table."""

    def __init__(self, bank: Bank, cache: VersionCache):
        self._bank, self._cache, self.path = bank, cache, bank.path

    def counter(self, name: str, column: str, where: str | None = None) -> Any:
        return self._cache.get(("counter", name, column, where), (name,),
                               lambda: self._bank.counter(name, column, where))

    def count(self, name: str, where: str | None = None) -> int:
        return self._cache.get(("count", name, where), (name,), lambda: self._bank.count(name, where))

    def feedback_counts(self, record_ids: Any = None, by: str = "record_id") -> dict[str, dict[str, int]]:
        ids = tuple(record_ids) if record_ids is not None else None
        return self._cache.get(("feedback", ids, by), ("feedback",), lambda: self._bank.feedback_counts(ids, by))
