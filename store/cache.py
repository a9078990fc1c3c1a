"""Per-process caches of what the hot path reads, each valid for one LanceDB table version.

Reading a table's version costs ~0.3 ms; a filtered read ~3.5 ms. So every cached value here is stored with
the version of the table it was derived from, and every use first reads the table's current version: when
it moved (a write by this process or another one, a compaction, a delete) the table's cached values are
dropped and reloaded on demand. An unchanged bank answers from memory; another process's write is seen on
the next call, as without caches.

On a local store the check is cheaper still: one stat of the next version's manifest file (a few µs; see
`Versioned._next_exists`); LanceDB's own version read (which lists the versions kept, so it slows as they
accumulate between maintenance runs) is made only when that file exists.

A write by this process that lands exactly one version after the cached one (nobody else committed in
between) is applied to the cached values in place instead of dropping them (`Versioned.wrote`), so a
single writer never re-reads what it just wrote.

What is cached (all per process):
- trajectories: per task, the facts pairing needs (id, model, outcome, length, time) — also the id check
  of a submission, since a trajectory id hashes its task id;
- pairs: per task, the task's contrast pairs;
- tombstones (`forgotten`): the set of (kind, value);
- records: per tag level, the records and their in-memory BM25 index; the record count;
- feedback: the helped / not helped tally per record;
- task links: which task texts were joined to another task (store/task_index.py), {text's task id: (task, score)}.
The vector matrix for classification lives in store/vectors.py on the same `Versioned` mechanism.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .bank import Bank, _pair, _traj_row, arrow_rows, eq, is_in, retry
from .bm25 import BM25
from .models import ContrastPair, MemoryRecord, TaskMatch, Trajectory

MAX_KEYS = 50_000  # cached keys per table before the cache starts over (bounds memory)
KEY_SET_MAX = 50_000  # rows up to which a table's whole key column is read to know which keys exist
LOAD_CHUNK = 500


class Versioned:
    """Values derived from one table, valid for the version they were loaded at.

    With `key_column`, values are per key of that column (a task id) and the set of keys present in the
    table (the "key set", loaded with one column read while the table has at most KEY_SET_MAX rows) tells
    that a key has no rows at all without a query — the common case of a submission for a new task."""

    def __init__(self, get_table: Callable[[], Any], key_column: str | None = None,
                 empty: Callable[[], Any] = list, versions_dir: str | None = None):
        self.get_table = get_table
        self.versions_dir = versions_dir  # local stores: the table's _versions directory
        self.key_column, self.empty = key_column, empty
        self.version: int | None = None
        self.items: dict[Any, Any] = {}
        self.keys: set[str] | None = None  # every key in the table at `version`, when known
        self.lock = threading.RLock()

    def _next_exists(self) -> bool | None:
        """Local stores: whether the version after the cached one has been committed — one stat of its
        manifest file (LanceDB names version v `{2^64 - 1 - v:020}.manifest`; a commit creates the next
        file atomically and cleanup never removes the latest). None when that cannot be told."""
        if self.versions_dir is None or self.version is None:
            return None
        if not os.path.exists(os.path.join(self.versions_dir, _manifest(self.version))):
            return None  # not the naming this relies on (or the table was replaced): ask LanceDB
        return os.path.exists(os.path.join(self.versions_dir, _manifest(self.version + 1)))

    def check(self) -> int:
        """Read the table's version; drop the cached values when it moved. Returns the version."""
        with self.lock:
            if self._next_exists() is False:  # nothing committed since: no LanceDB call at all
                return self.version  # type: ignore[return-value]
            v = int(self.get_table().version)
            if v != self.version:
                self.items = {}
                self.keys = None
                self.version = v
            return v

    def get(self, key: Any, load: Callable[[], Any], check: bool = True) -> Any:
        """The cached value for key, loading it when missing. `check=False` when the caller has just
        called `check()` for the same read (saves a version read)."""
        with self.lock:
            if check or self.version is None:
                self.check()
            if key not in self.items:
                if len(self.items) >= MAX_KEYS:
                    self.items = {}
                # Loaded after the version was read: the values are at least that new, so a later write
                # moves the version and they are reloaded. (The other order could keep stale values.)
                self.items[key] = load()
            return self.items[key]

    def _key_set(self) -> set[str] | None:
        if self.keys is None and self.key_column:
            tbl = self.get_table()
            if tbl.count_rows() <= KEY_SET_MAX:
                col = tbl.search().select([self.key_column]).limit(None).to_arrow().column(self.key_column)
                self.keys = set(col.to_pylist())
        return self.keys

    def get_many(self, keys: Iterable[Any], load: Callable[[list[Any]], dict[Any, Any]],
                 check: bool = True) -> tuple[int, dict]:
        """The version and {key: value} for keys, loading the missing ones with one `load(missing)`."""
        with self.lock:
            v = self.check() if check or self.version is None else self.version
            keys = list(dict.fromkeys(keys))
            missing = [k for k in keys if k not in self.items]
            if missing:
                if len(self.items) + len(missing) >= MAX_KEYS:
                    self.items = {}
                    missing = keys
                present = self._key_set()
                if present is not None:
                    for k in [k for k in missing if k not in present]:
                        self.items[k] = self.empty()
                    missing = [k for k in missing if k in present]
                if missing:
                    self.items.update(load(missing))
            return v, {k: self.items[k] for k in keys}

    def wrote(self, before: int, after: int, apply: Callable[[dict[Any, Any]], None],
              keys: Iterable[Any] = ()) -> bool:
        """This process committed version `after` on top of version `before`. When that is the next version
        after the cached one, nobody else wrote in between: apply the change in place (`keys`: the keys the
        write added rows for) and return True. Otherwise drop everything and return False."""
        with self.lock:
            if self.version == before and after == before + 1:
                apply(self.items)
                if self.keys is not None:
                    self.keys.update(keys)
                self.version = after
                return True
            self.items = {}
            self.keys = None
            self.version = None
            return False


def _manifest(version: int) -> str:
    return f"{(1 << 64) - 1 - version:020d}.manifest"


def versions_dir(bank: Bank, table: str) -> str | None:
    path = getattr(getattr(bank, "location", None), "path", None)
    return os.path.join(str(path), f"{table}.lance", "_versions") if path is not None else None


@dataclass(frozen=True)
class Brief:
    """What pairing needs of a trajectory (duck-compatible with Trajectory for `pairs_for`)."""

    id: str
    task_id: str
    model: str
    outcome: str
    length: int
    created_at: datetime


def brief(t: Trajectory) -> Brief:
    return Brief(t.id, t.task_id, t.model, t.outcome, t.length, t.created_at)


@dataclass
class TagIndex:
    """The records of one tag level, with their BM25 index (built on first use)."""

    records: list[MemoryRecord]
    _bm25: BM25 | None = None

    def __post_init__(self) -> None:
        self.by_id = {r.id: r for r in self.records}
        self._by_support: list[MemoryRecord] | None = None

    @property
    def bm25(self) -> BM25:
        if self._bm25 is None:
            self._bm25 = BM25([r.search_text() for r in self.records])
        return self._bm25

    def by_support(self) -> list[MemoryRecord]:
        """Most supported first (the records that fill a list when too few match the query)."""
        if self._by_support is None:
            self._by_support = sorted(self.records, key=lambda r: (-r.support, r.id))
        return self._by_support


def level_where(level: tuple[str, ...]) -> str | None:
    """A tag level key → its LanceDB filter: ("subcategory", c, s) | ("category", c) | ("any",)."""
    if level[0] == "subcategory":
        return f"{eq('category', level[1])} AND {eq('subcategory', level[2])}"
    if level[0] == "category":
        return eq("category", level[1])
    return None


class Caches:
    def __init__(self, bank: Bank):
        self.bank = bank
        self.trajectories = Versioned(lambda: bank.table("trajectories"), "task_id", list,
                                      versions_dir(bank, "trajectories"))
        self.pairs = Versioned(lambda: bank.table("pairs"), "task_id", dict, versions_dir(bank, "pairs"))
        self.forgotten = Versioned(lambda: bank.table("forgotten"), versions_dir=versions_dir(bank, "forgotten"))
        self.records = Versioned(lambda: bank.table("records"), versions_dir=versions_dir(bank, "records"))
        self.feedback = Versioned(lambda: bank.table("feedback"), versions_dir=versions_dir(bank, "feedback"))
        self.links = Versioned(lambda: bank.table("task_links"), versions_dir=versions_dir(bank, "task_links"))
        self._others: dict[str, Versioned] = {}

    def table_cache(self, name: str, get_table: Callable[[], Any]) -> Versioned:
        """A `Versioned` for another table (the vector tables)."""
        v = self._others.get(name)
        if v is None:
            with self.bank._lock:
                v = self._others.setdefault(name, Versioned(get_table, versions_dir=versions_dir(self.bank, name)))
        return v

    # --- reads -----------------------------------------------------------------------------------

    def record_count(self) -> int:
        return self.records.get("count", lambda: self.bank.count("records"))

    def tag(self, level: tuple[str, ...], check: bool = True) -> TagIndex:
        return self.records.get(level, lambda: TagIndex(self.bank.records(level_where(level))), check)

    def feedback_tally(self) -> dict[str, tuple[int, int]]:
        """{record_id: (helped, not helped)}."""
        def load() -> dict[str, tuple[int, int]]:
            tbl = self.bank._arrow("feedback", ["record_id", "helped"])
            out: dict[str, list[int]] = {}
            for rid, helped in zip(tbl.column("record_id").to_pylist(), tbl.column("helped").to_pylist(),
                                   strict=True):
                out.setdefault(rid, [0, 0])[0 if helped else 1] += 1
            return {k: (h, n) for k, (h, n) in out.items()}

        return self.feedback.get("tally", load)

    def tombstones(self) -> frozenset[tuple[str, str]]:
        def load() -> frozenset[tuple[str, str]]:
            if self.bank.count("forgotten") == 0:
                return frozenset()
            tbl = self.bank._arrow("forgotten", ["kind", "value"])
            return frozenset(zip(tbl.column("kind").to_pylist(), tbl.column("value").to_pylist(), strict=True))

        return self.forgotten.get("set", load)

    def task_links(self) -> dict[str, tuple[str, float]]:
        """{a joined text's own task id: (the task it joined, similarity)}: first link per text wins."""
        def load() -> dict[str, tuple[str, float]]:
            tbl = self.bank._arrow("task_links", ["id", "task_id", "score"])
            out: dict[str, tuple[str, float]] = {}
            for key, task, score in zip(*(tbl.column(c).to_pylist() for c in ("id", "task_id", "score")), strict=True):
                out.setdefault(key, (task, float(score or 0.0)))
            return out

        return self.links.get("map", load)

    def follow_links(self, ts: list[Trajectory]) -> None:
        """Replace, in place, each trajectory stored under its own text's id whose text was joined to another
        task by that task's form (task_id and task_match "similar")."""
        if not any(t.task_match is not None and t.task_match.by == "text" for t in ts):
            return
        links = self.task_links()
        for i, t in enumerate(ts):
            if t.task_match is not None and t.task_match.by == "text" and t.task_id in links:
                task, score = links[t.task_id]
                ts[i] = t.model_copy(update={"task_id": task,
                                             "task_match": TaskMatch(by="similar", task=task, score=score)})

    def is_forgotten(self, kind: str, value: str) -> bool:
        return (kind, value) in self.tombstones()

    def _load_task_trajectories(self, task_ids: list[str]) -> dict[str, list[Brief]]:
        out: dict[str, list[Brief]] = {t: [] for t in task_ids}
        for i in range(0, len(task_ids), LOAD_CHUNK):
            for t in self.bank.trajectories(is_in("task_id", task_ids[i:i + LOAD_CHUNK])):
                out[t.task_id].append(brief(t))
        return out

    def task_trajectories(self, task_ids: Iterable[str]) -> tuple[int, dict[str, list[Brief]]]:
        return self.trajectories.get_many(task_ids, self._load_task_trajectories)

    def _load_task_pairs(self, task_ids: list[str]) -> dict[str, dict[str, ContrastPair]]:
        out: dict[str, dict[str, ContrastPair]] = {t: {} for t in task_ids}
        for i in range(0, len(task_ids), LOAD_CHUNK):
            for row in self.bank._select("pairs", is_in("task_id", task_ids[i:i + LOAD_CHUNK])):
                p = _pair(row)
                out[p.task_id][p.id] = p
        return out

    def task_pairs(self, task_ids: Iterable[str], check: bool = True) -> tuple[int, dict[str, dict[str, ContrastPair]]]:
        return self.pairs.get_many(task_ids, self._load_task_pairs, check)

    # --- writes ----------------------------------------------------------------------------------

    def add_trajectories(self, ts: list[Trajectory], links: bool = False) -> list[bool]:
        """Store the new ones among `ts` in one append; per input, whether it was stored. The id check is
        done against the task's cached trajectories, under the cross-process insert lock (the same lock
        `Bank._insert` holds), so concurrent processes never store one id twice. With `links`, a text joined
        to another task goes to that task (`follow_links`: the items of `ts` are replaced), under the same
        lock as the joining (store/task_index.py), so a resubmission is checked where its first copy is."""
        bank = self.bank

        def go() -> list[bool]:
            v, by_task = self.task_trajectories(t.task_id for t in ts)
            known = {b.id for bs in by_task.values() for b in bs}
            flags, new = [], []
            for t in ts:
                fresh = t.id not in known
                known.add(t.id)
                flags.append(fresh)
                if fresh:
                    new.append(t)
            if new:
                after = int(bank.appender("trajectories").add(arrow_rows("trajectories", [_traj_row(t) for t in new]))
                            .version)

                def apply(items: dict[Any, Any]) -> None:
                    for t in new:
                        if t.task_id in items:
                            items[t.task_id].append(brief(t))

                self.trajectories.wrote(v, after, apply, [t.task_id for t in new])
            return flags

        # The cache's lock is held across the append and `wrote`: a reader in this process that saw the new
        # version before the cache had it would drop the cache, and the writer's `wrote` would then drop it again.
        with bank.location.insert_lock("trajectories"):
            if links:  # before the cache's lock: no thread holds one cache lock while it takes another
                self.follow_links(ts)
            with self.trajectories.lock:
                return retry(go, "insert trajectories")

    def add_pairs(self, pairs: list[ContrastPair], check: bool = True) -> bool:
        """Append the pairs not stored yet (caller holds the pairs insert lock). Returns whether the pairs
        cache is still current (False: another process wrote in between; the next read reloads). Holds the
        cache's lock across the append and `wrote`, as `add_trajectories` does."""
        with self.pairs.lock:
            v, by_task = self.task_pairs((p.task_id for p in pairs), check)
            new = [p for p in {p.id: p for p in pairs}.values() if p.id not in by_task[p.task_id]]
            if not new:
                return True
            after = int(self.bank.appender("pairs").add(arrow_rows("pairs", [p.model_dump() for p in new])).version)

            def apply(items: dict[Any, Any]) -> None:
                for p in new:
                    if p.task_id in items:
                        items[p.task_id][p.id] = p

            return self.pairs.wrote(v, after, apply, [p.task_id for p in new])

    def repoint_pairs(self, pair_ids: list[str], preferred_id: str, preferred_model: str) -> None:
        """Give pending pairs a new τ+ (a distilled, failed or skipped pair stays as it was)."""
        from .models import now

        tbl = self.bank.table("pairs")
        stamp = now()
        where = f"{is_in('id', pair_ids)} AND status = 'pending'"
        ids = set(pair_ids)

        def apply(items: dict[Any, Any]) -> None:
            for pairs in items.values():
                for pid, p in list(pairs.items()):
                    if pid in ids and p.status == "pending":
                        pairs[pid] = p.model_copy(update={"preferred_id": preferred_id,
                                                          "preferred_model": preferred_model,
                                                          "updated_at": stamp})

        with self.pairs.lock:  # across the update and `wrote`, as in `add_pairs`
            v = self.pairs.check()
            after = int(tbl.update(where=where, values={"preferred_id": preferred_id,
                                                        "preferred_model": preferred_model,
                                                        "updated_at": stamp}).version)
            self.pairs.wrote(v, after, apply)


def caches(bank: Bank) -> Caches:
    """The bank's caches (one set per Bank object, so per process for the server)."""
    c = bank.__dict__.get("_hot_caches")
    if c is None:
        with bank._lock:
            c = bank.__dict__.setdefault("_hot_caches", Caches(bank))
    return c
