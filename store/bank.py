"""The bank: LanceDB tables for trajectories, contrast pairs, memory records and feedback.

Several server processes share one store directory, so:
- every read sees other processes' writes (`read_consistency_interval=timedelta(0)`);
- tables are created with `exist_ok`, and a lost creation race just opens the winner's table;
- writes that hit a commit conflict are retried with jittered backoff;
- inserts check the content-hash id under a per-table file lock, so a resubmission is not stored twice;
  on object storage no lock reaches another machine: a racing duplicate id is hidden on read (`_select`,
  `_arrow`, `count`) and removed by maintenance (store/location.py);
- every client string that reaches a filter goes through `sql_str` (quoted, `'` doubled).

lancedb and pyarrow are imported lazily: the server must answer `tools/list` before they load.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .models import (
    OUTCOME_SOURCE_KEY,
    SCHEMA_VERSION,
    TASK_MATCH_KEY,
    STORED,
    Constraint,
    ConstraintVerdict,
    ContrastPair,
    Feedback,
    MemoryRecord,
    Trajectory,
    clean_text,
    now,
)

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("memcollab.store")
T = TypeVar("T")

TABLES = ("meta", "trajectories", "pairs", "records", "feedback", "verdicts", "forgotten", "task_links")


def sql_str(value: str) -> str:
    """A client string as a SQL string literal for a LanceDB filter. The only way values enter filters."""
    if not isinstance(value, str):
        raise TypeError(f"filter value must be a string, not {type(value).__name__}")
    return "'" + value.replace("\x00", "").replace("'", "''") + "'"


# Column names are quoted: LanceDB folds an unquoted name's case, so a misspelt `ID` would still match `id`.
def eq(column: str, value: str) -> str:
    return f"`{column}` = {sql_str(value)}"


def is_in(column: str, values: Iterable[str]) -> str:
    vals = list(values)
    if not vals:
        return "false"
    return f"`{column}` IN ({', '.join(sql_str(v) for v in vals)})"


def arrow_rows(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table of the table's schema, for an append: LanceDB's own conversion of a list of dicts
    cost ~10% of a one-row append's CPU. Each row must have exactly the schema's columns (a missing key would
    silently become a null)."""
    import pyarrow as pa

    schema = _schemas()[table]
    names = set(schema.names)
    for r in rows:
        if r.keys() != names:
            raise ValueError(f"a {table} row does not match its schema: {sorted(r.keys() ^ names)}")
    return pa.Table.from_pylist(rows, schema=schema)


@functools.cache
def _schemas() -> dict[str, pa.Schema]:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    strs = pa.list_(pa.string())
    return {
        "meta": pa.schema([("key", pa.string()), ("value", pa.string())]),
        "trajectories": pa.schema([
            ("id", pa.string()), ("task_id", pa.string()), ("task", pa.string()), ("model", pa.string()),
            ("agent", pa.string()), ("steps", strs), ("final_answer", pa.string()), ("outcome", pa.string()),
            ("category", pa.string()), ("subcategory", pa.string()), ("metadata", pa.string()),
            ("created_at", ts),
        ]),
        "pairs": pa.schema([
            ("id", pa.string()), ("task_id", pa.string()), ("preferred_id", pa.string()),
            ("unpreferred_id", pa.string()), ("preferred_model", pa.string()), ("unpreferred_model", pa.string()),
            ("status", pa.string()), ("attempts", pa.int64()), ("last_error", pa.string()),
            ("record_ids", strs), ("created_at", ts), ("updated_at", ts),
        ]),
        "records": pa.schema([
            ("id", pa.string()), ("category", pa.string()), ("subcategory", pa.string()),
            ("constraints", pa.string()), ("task", pa.string()), ("text", pa.string()),
            ("preferred_models", strs), ("unpreferred_models", strs), ("distiller", pa.string()),
            ("prompt_version", pa.string()), ("support", pa.int64()), ("pair_ids", strs),
            ("outcome_sources", strs),
            ("created_at", ts), ("updated_at", ts),
        ]),
        "verdicts": pa.schema([
            ("id", pa.string()), ("pair_id", pa.string()), ("verdict", pa.string()), ("reason", pa.string()),
            ("text", pa.string()), ("distiller", pa.string()), ("created_at", ts),
        ]),
        "forgotten": pa.schema([
            ("id", pa.string()), ("kind", pa.string()), ("value", pa.string()), ("reason", pa.string()),
            ("created_at", ts),
        ]),
        "feedback": pa.schema([
            ("id", pa.string()), ("record_id", pa.string()), ("helped", pa.bool_()), ("model", pa.string()),
            ("created_at", ts),
        ]),
        # A task text joined to another task (store/task_index.py): id = the text's own task id (task_id_for).
        "task_links": pa.schema([
            ("id", pa.string()), ("task_id", pa.string()), ("score", pa.float64()), ("created_at", ts),
        ]),
    }


def _is_conflict(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return any(s in msg for s in ("conflict", "retryable", "concurrent", "was already committed",
                                  "too many concurrent writers"))


def retry(fn: Callable[[], T], what: str, attempts: int = 12) -> T:
    """Run a LanceDB write, retrying commit conflicts with exponential backoff and jitter."""
    delay = 0.01
    for i in range(attempts):
        try:
            return fn()
        except Exception as exc:
            if i == attempts - 1 or not _is_conflict(exc):
                raise
            log.debug("retrying %s after conflict: %s", what, exc)
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")


# --- rows <-> models -------------------------------------------------------------------------

def _traj_row(t: Trajectory) -> dict[str, Any]:
    row = t.model_dump(exclude={"outcome_source", "task_match"})
    # outcome_source and task_match ride in the metadata JSON column (no columns of their own: older stores
    # read unchanged)
    meta = {k: v for k, v in t.metadata.items() if k not in (OUTCOME_SOURCE_KEY, TASK_MATCH_KEY)}
    if t.outcome_source != "caller":
        meta[OUTCOME_SOURCE_KEY] = t.outcome_source
    if t.task_match is not None:
        meta[TASK_MATCH_KEY] = t.task_match.model_dump(exclude_none=True)
    row["metadata"] = json.dumps(meta, ensure_ascii=False)
    return row


def _traj(row: dict[str, Any]) -> Trajectory:
    row = {k: v for k, v in row.items() if not k.startswith("_")}
    row["metadata"] = json.loads(row.get("metadata") or "{}")
    row["outcome_source"] = row["metadata"].pop(OUTCOME_SOURCE_KEY, "caller")
    row["task_match"] = row["metadata"].pop(TASK_MATCH_KEY, None)
    row["steps"] = list(row.get("steps") or [])
    return Trajectory.model_validate(row, context=STORED)


def _pair(row: dict[str, Any]) -> ContrastPair:
    row = {k: v for k, v in row.items() if not k.startswith("_")}
    row["record_ids"] = list(row.get("record_ids") or [])
    return ContrastPair.model_validate(row, context=STORED)


def _record_row(r: MemoryRecord) -> dict[str, Any]:
    row = r.model_dump()
    row["constraints"] = json.dumps([c.model_dump() for c in r.constraints], ensure_ascii=False)
    row["text"] = r.search_text()
    return row


def _record(row: dict[str, Any]) -> MemoryRecord:
    row = {k: v for k, v in row.items() if not k.startswith("_") and k not in ("text", "vector")}
    row["constraints"] = [Constraint(**c) for c in json.loads(row["constraints"])]
    for k in ("preferred_models", "unpreferred_models", "pair_ids", "outcome_sources"):
        row[k] = list(row.get(k) or [])
    return MemoryRecord.model_validate(row, context=STORED)


class StoreUnavailable(RuntimeError):
    """The store cannot be opened; the message says why and what to do (retrying will not help)."""


class SchemaTooNew(StoreUnavailable):
    pass


def store_problem(path: str | Path) -> str | None:
    """What stops a local store directory from being opened or created, or None. Cheap (no lancedb)."""
    from .location import is_remote

    if is_remote(path):  # object storage: the first call says what is wrong (credentials, bucket)
        return None
    p = Path(path).expanduser()
    fix = "pass --store DIR or set MEMCOLLAB_STORE to a directory"
    if p.exists():
        if not p.is_dir():
            return f"store {p} is a file, not a directory; {fix}"
        if not os.access(p, os.R_OK | os.W_OK | os.X_OK):
            return f"store {p} is not readable and writable by this user; fix its permissions or {fix}"
        return None
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"store {p} cannot be created because {parent} is a file; {fix}"
            if not os.access(parent, os.W_OK | os.X_OK):
                return f"store {p} cannot be created in {parent} (not writable); {fix}"
            return None
    return None


class Appender:
    """Appends to one table through Lance's dataset API, on a dataset handle kept open.

    LanceDB's own `add` cost ~1.8× the CPU of Lance's `insert` for a one-row append here (5.2 vs 2.9 ms: it
    hands each call to its event loop thread and a tokio runtime and back), and a submit is one such append.
    The handle never looks for newer versions before an append: that look lists every version kept, so it made
    an append's cost grow with the versions since the last cleanup. An append needs no fresh view: Lance commits
    it on top of whatever is latest, rebasing over the commits it missed (another process's appends, a
    compaction, a cleanup), and the handle's version is then the one it committed."""

    def __init__(self, uri: str, options: dict[str, str] | None):
        self.uri, self.options = uri, options or None
        self._ds: Any = None
        self._lock = threading.Lock()

    def add(self, data: pa.Table | list[dict[str, Any]]) -> Appended:
        import lance
        import pyarrow as pa

        with self._lock:
            if self._ds is None:
                self._ds = lance.dataset(self.uri, storage_options=self.options)
            if not isinstance(data, pa.Table):
                data = pa.Table.from_pylist(data, schema=self._ds.schema)
            self._ds.insert(data)
            return Appended(int(self._ds.version))


@dataclass(frozen=True)
class Appended:
    version: int


class Bank:
    """One store directory. Thread-safe for use from the server's worker threads."""

    def __init__(self, path: str | Path):
        from .location import StoreLocation

        # A local directory or an object-store URI (store/location.py says what differs between them).
        self.location = StoreLocation.parse(path)
        self.path: Path | str = self.location.path or self.location.uri
        self._db: Any = None
        self._tables: dict[str, Any] = {}
        self._appenders: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._fts_ready = False

    # --- connection ----------------------------------------------------------------------------

    def connect(self) -> Any:
        with self._lock:
            if self._db is None:
                problem = store_problem(self.location.path) if self.location.path else None
                if problem:
                    raise StoreUnavailable(problem)
                self._db = self.location.connect()
                self._check_schema_version()
            return self._db

    def appender(self, name: str, schema: pa.Schema | None = None) -> Appender:
        """A handle on table `name` for appends, never for reads (see `Appender`)."""
        app = self._appenders.get(name)
        if app is None:
            self.table(name, schema)  # created (and migrated) through the fresh connection first
            with self._lock:
                app = self._appenders.get(name)
                if app is None:
                    app = self._appenders[name] = Appender(self.location.table_uri(name), self.location.options)
        return app

    def open_locally(self, *names: str) -> bool:
        """A local store with these tables open in this process: checking a cache on them costs a stat, and no
        call waits for a connect (callers answer on the event loop then, not on a worker thread)."""
        return self.location.path is not None and all(n in self._tables for n in names)

    def table(self, name: str, schema: pa.Schema | None = None) -> Any:
        """Open (creating if needed) one table; `schema` for tables outside TABLES (the vector tables)."""
        tbl = self._tables.get(name)
        if tbl is not None:
            return tbl
        with self._lock:
            if name not in self._tables:
                db = self.connect()
                schema = schema or _schemas()[name]

                def create() -> Any:
                    try:
                        return db.create_table(name, schema=schema, exist_ok=True)
                    except Exception:
                        # Another process won the creation race: open what it made.
                        return db.open_table(name)

                tbl = retry(create, f"create {name}")
                if name in TABLES:
                    self._add_new_columns(name, tbl)
                self._tables[name] = tbl
            return self._tables[name]

    def _add_new_columns(self, name: str, tbl: Any) -> None:
        """Columns a later schema version added (v2: records.outcome_sources) are added, null, to a table an
        older memcollab made. A process adding them at the same moment is a commit conflict, retried; the
        retry then finds them there."""
        def go() -> None:
            missing = [f for f in _schemas()[name] if f.name not in tbl.schema.names]
            if missing:
                tbl.add_columns(missing)

        retry(go, f"add columns to {name}")

    def _check_schema_version(self) -> None:
        meta = self.table("meta")
        rows = meta.search().where(eq("key", "schema_version")).limit(10).to_list()
        if not rows:
            retry(lambda: meta.merge_insert("key").when_not_matched_insert_all().execute(
                [{"key": "schema_version", "value": str(SCHEMA_VERSION)}]), "schema version")
            return
        found = max(int(r["value"]) for r in rows)
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(f"store {self.path} has schema version {found}; this memcollab understands "
                               f"{SCHEMA_VERSION}. Upgrade memcollab.")
        if found < SCHEMA_VERSION:  # an older store: add the new columns, then say so, so older versions stop
            self.table("records")
            retry(lambda: meta.update(where=eq("key", "schema_version"), values={"value": str(SCHEMA_VERSION)}),
                  "schema version")

    def _insert(self, name: str, rows: list[dict[str, Any]], key: str = "id") -> int:
        """Insert rows whose key is not present yet; returns how many were inserted.

        Two processes inserting the same new key at the same moment would both see it absent (merge_insert
        does not prevent this either), so inserts into a table hold a cross-process file lock around the
        check and the append. The OS releases it when a process dies, so a crash never leaves it held."""
        if not rows:
            return 0
        tbl = self.table(name)

        def go() -> int:
            keys = list(dict.fromkeys(r[key] for r in rows))
            present: set[str] = set()
            for i in range(0, len(keys), 1000):
                chunk = keys[i:i + 1000]
                present.update(tbl.search().where(is_in(key, chunk)).select([key]).limit(None).to_arrow()
                               .column(key).to_pylist())
            seen: set[str] = set()
            new = [r for r in rows if r[key] not in present and not (r[key] in seen or seen.add(r[key]))]
            if new:
                self.appender(name).add(new)
            return len(new)

        # Check-then-add is safe because every memcollab writer holds the same file lock for it.
        with self._lock, self.location.insert_lock(name):
            return retry(go, f"insert into {name}")

    def _select(self, name: str, where: str | None = None, limit: int | None = None,
                columns: list[str] | None = None) -> list[dict[str, Any]]:
        q = self.table(name).search()
        if where:
            q = q.where(where)
        if columns:
            q = q.select(columns)
        rows = q.limit(limit).to_list()
        # Belt and braces against a duplicate from a cross-process insert race: first row per id wins.
        if rows and "id" in rows[0]:
            seen: set[str] = set()
            rows = [r for r in rows if not (r["id"] in seen or seen.add(r["id"]))]
        return rows

    def _arrow(self, name: str, columns: list[str], where: str | None = None) -> pa.Table:
        q = self.table(name).search()
        if where:
            q = q.where(where)
        if not (self.location.remote and name != "meta"):
            return q.select(columns).limit(None).to_arrow()
        # Object storage has no insert lock: hide a racing duplicate of an id (first row wins, as in _select).
        tbl = q.select(list(dict.fromkeys([*columns, "id"]))).limit(None).to_arrow()
        seen: set[str] = set()
        keep = [i for i, k in enumerate(tbl.column("id").to_pylist()) if not (k in seen or seen.add(k))]
        if len(keep) < tbl.num_rows:
            tbl = tbl.take(keep)
        return tbl.select(columns)

    def update(self, name: str, where: str, values: dict[str, Any]) -> None:
        tbl = self.table(name)
        with self._lock:
            retry(lambda: tbl.update(where=where, values=values), f"update {name}")

    def delete(self, name: str, where: str) -> None:
        tbl = self.table(name)
        with self._lock:
            retry(lambda: tbl.delete(where), f"delete from {name}")

    # --- trajectories --------------------------------------------------------------------------

    def add_trajectory(self, t: Trajectory) -> bool:
        """Store a trajectory; False when the same content was stored before."""
        return self._insert("trajectories", [_traj_row(t)]) > 0

    def add_trajectories(self, ts: list[Trajectory]) -> int:
        return self._insert("trajectories", [_traj_row(t) for t in ts])

    def trajectories(self, where: str | None = None, limit: int | None = None) -> list[Trajectory]:
        return [_traj(r) for r in self._select("trajectories", where, limit)]

    def trajectories_for_task(self, task_id: str) -> list[Trajectory]:
        return self.trajectories(eq("task_id", task_id))

    def get_trajectories(self, ids: Iterable[str]) -> dict[str, Trajectory]:
        ids = list(ids)
        return {t.id: t for t in self.trajectories(is_in("id", ids))} if ids else {}

    def label_outcome(self, trajectory_id: str, outcome: str, source: str) -> bool:
        """Label a stored trajectory whose outcome is still unknown (`memcollab judge`), with the label's
        source. Its id stays: it hashes the submission. False when it is gone or was labelled meanwhile."""
        if outcome not in ("correct", "incorrect"):
            raise ValueError(f"outcome must be correct or incorrect, not {outcome!r}")
        where = f"{eq('id', trajectory_id)} AND outcome = 'unknown'"
        found = self.trajectories(where, limit=1)
        if not found:
            return False
        row = _traj_row(found[0].model_copy(update={"outcome": outcome, "outcome_source": source}))
        self.update("trajectories", where, values={"outcome": outcome, "metadata": row["metadata"]})
        return True

    # --- pairs ---------------------------------------------------------------------------------

    def add_pairs(self, pairs: list[ContrastPair]) -> int:
        return self._insert("pairs", [p.model_dump() for p in pairs])

    def pairs(self, where: str | None = None, limit: int | None = None) -> list[ContrastPair]:
        return [_pair(r) for r in self._select("pairs", where, limit)]

    def get_pair(self, pair_id: str) -> ContrastPair | None:
        found = self.pairs(eq("id", pair_id), limit=1)
        return found[0] if found else None

    def set_pair(self, pair_id: str, *, status: str, attempts: int | None = None,
                 last_error: str | None = None, record_ids: list[str] | None = None) -> None:
        # a provider's error message can quote a key: last_error is redacted like every stored string
        values: dict[str, Any] = {"status": status, "updated_at": now(),
                                  "last_error": clean_text(last_error) if last_error else last_error}
        if attempts is not None:
            values["attempts"] = attempts
        if record_ids is not None:
            values["record_ids"] = record_ids
        self.update("pairs", eq("id", pair_id), values=values)

    # --- records -------------------------------------------------------------------------------

    def add_records(self, records: list[MemoryRecord]) -> int:
        n = self._insert("records", [_record_row(r) for r in records])
        if n:
            self.ensure_fts()
        return n

    def records(self, where: str | None = None, limit: int | None = None) -> list[MemoryRecord]:
        return [_record(r) for r in self._select("records", where, limit)]

    def get_records(self, ids: Iterable[str]) -> dict[str, MemoryRecord]:
        ids = list(ids)
        return {r.id: r for r in self.records(is_in("id", ids))} if ids else {}

    def records_at(self, row_ids: list[int]) -> list[MemoryRecord]:
        """Records by LanceDB row id (from a scan `with_row_id`), in that order: ~5x cheaper than an id filter
        at 100k rows. Row ids move when maintenance compacts the table, so callers check the ids they got."""
        if not row_ids:
            return []
        # LanceDB returns them in row-id order, not in the order asked for
        rows = {r["_rowid"]: r for r in self.table("records").take_row_ids(list(row_ids)).with_row_id().to_list()}
        return [_record(rows[i]) for i in row_ids if i in rows]

    def add_support(self, record_id: str, pair_id: str, preferred_model: str, unpreferred_model: str,
                    outcome_sources: Iterable[str] = ()) -> None:
        """A new contrast re-confirmed this record: count it and remember where it came from."""
        def go() -> None:
            rec = self.get_records([record_id]).get(record_id)
            if rec is None or pair_id in rec.pair_ids:
                return
            pm = rec.preferred_models + ([preferred_model] if preferred_model not in rec.preferred_models else [])
            um = rec.unpreferred_models + (
                [unpreferred_model] if unpreferred_model not in rec.unpreferred_models else [])
            values = {"support": rec.support + 1, "pair_ids": [*rec.pair_ids, pair_id],
                      "preferred_models": pm, "unpreferred_models": um, "updated_at": now()}
            sources = sorted({*rec.outcome_sources, *outcome_sources})
            if sources:  # LanceDB cannot write an empty list literal ("concat requires ... one array")
                values["outcome_sources"] = sources
            self.table("records").update(where=eq("id", record_id), values=values)

        with self._lock:
            retry(go, "add support")

    def ensure_fts(self, replace: bool = False) -> None:
        """The native full-text (BM25) index over source task + constraint text, and bitmap indexes on the
        tag columns. Rows added after an index was built are still searched (flat), and maintenance folds
        them into the index."""
        if self._fts_ready and not replace:
            return
        from lancedb.index import FTS, Bitmap

        tbl = self.table("records")
        with self._lock:
            have = {tuple(getattr(i, "columns", ())) for i in tbl.list_indices()}
            if ("text",) not in have or replace:
                retry(lambda: tbl.create_index("text", config=FTS(), replace=True), "create fts index")
            # bitmap indexes make the (category, subcategory) hard filter cheap at 100k records
            for col in ("category", "subcategory"):
                if (col,) not in have:
                    retry(lambda c=col: tbl.create_index(c, config=Bitmap(), replace=True), f"index {col}")
            self._fts_ready = True

    def search_records(self, query: str, where: str | None, limit: int) -> list[tuple[MemoryRecord, float]]:
        """BM25 over the records' text inside an optional hard filter; best first."""
        tbl = self.table("records")
        self.ensure_fts()
        q = tbl.search(query, query_type="fts", fts_columns="text")
        if where:
            q = q.where(where, prefilter=True)
        rows = q.limit(limit).to_list()
        seen: set[str] = set()  # a racing duplicate on object storage (see _arrow)
        rows = [r for r in rows if not (r["id"] in seen or seen.add(r["id"]))]
        return [(_record(r), float(r.get("_score") or 0.0)) for r in rows]

    def add_verdicts(self, items: list[ConstraintVerdict]) -> int:
        return self._insert("verdicts", [v.model_dump() for v in items])

    # --- feedback ------------------------------------------------------------------------------

    def add_feedback(self, items: list[Feedback]) -> int:
        return self._insert("feedback", [f.model_dump() for f in items])

    def feedback_counts(self, record_ids: Iterable[str] | None = None,
                        by: str = "record_id") -> dict[str, dict[str, int]]:
        """{record_id (or model, with by="model"): {"helped": n, "not_helped": m}}."""
        where = is_in("record_id", record_ids) if record_ids is not None else None
        tbl = self._arrow("feedback", [by, "helped"], where)
        out: dict[str, dict[str, int]] = {}
        for key, helped in zip(tbl.column(by).to_pylist(), tbl.column("helped").to_pylist(), strict=True):
            c = out.setdefault(key or "(unnamed)", {"helped": 0, "not_helped": 0})
            c["helped" if helped else "not_helped"] += 1
        return out

    # --- counts --------------------------------------------------------------------------------

    def count(self, name: str, where: str | None = None) -> int:
        if self.location.remote and name != "meta":  # distinct ids (see _arrow)
            return self._arrow(name, ["id"], where).num_rows
        return int(self.table(name).count_rows(where))

    def counter(self, name: str, column: str, where: str | None = None) -> Counter[str]:
        import pyarrow.compute as pc

        counts = pc.value_counts(self._arrow(name, [column], where).column(column))  # in Arrow: 100k rows in ~10 ms
        out: Counter[str] = Counter()
        for v, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True):
            out[v if v is not None else ""] += n
        return out

    # --- export / import -----------------------------------------------------------------------

    def iter_all(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every stored object as (type, JSON-able dict), for export."""
        for t in self.trajectories():
            yield "trajectory", t.model_dump(mode="json")
        for p in self.pairs():
            yield "pair", p.model_dump(mode="json")
        for r in self.records():
            yield "record", r.model_dump(mode="json")
        for row in self._select("feedback"):
            yield "feedback", Feedback(**{k: v for k, v in row.items() if not k.startswith("_")}).model_dump(
                mode="json")
