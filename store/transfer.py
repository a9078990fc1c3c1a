"""Export and import: JSONL, one object per line with "type": trajectory | pair | record | feedback.

Export writes every stored object whole, so export → import into an empty store is lossless. Import also
takes minimal lines: a trajectory without "id" (as a client would submit it) and a record with only
category, subcategory, task and constraints.

Import honours `forget`: an object the store's tombstones name (a forgotten trajectory, pair or record, or
anything from a forgotten model or agent) is skipped and counted, so an older export cannot bring it
back. `include_forgotten=True` (`memcollab import --include-forgotten`) imports it anyway and lifts the
tombstones it matched, which undoes the forget for what the file holds.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

from pydantic import ValidationError

from .bank import Bank, eq, is_in
from .models import ContrastPair, Feedback, MemoryRecord, Trajectory, TrajectoryIn

BATCH = 2000
KINDS: dict[type, str] = {Trajectory: "trajectory", ContrastPair: "pair", MemoryRecord: "record", Feedback: "feedback"}


def export_jsonl(bank: Bank, out: IO[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind, obj in bank.iter_all():
        out.write(json.dumps({"type": kind, **obj}, ensure_ascii=False) + "\n")
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def parse_line(obj: dict[str, Any]) -> Trajectory | ContrastPair | MemoryRecord | Feedback:
    kind = obj.pop("type", None)
    if kind == "trajectory":
        return Trajectory(**obj) if "id" in obj else TrajectoryIn(**obj).to_trajectory()
    if kind == "pair":
        return ContrastPair(**obj)
    if kind == "record":
        if "id" not in obj:
            probe = MemoryRecord(id="-", **obj)
            obj["id"] = MemoryRecord.make_id(probe.category, probe.subcategory, probe.constraints, probe.task)
        return MemoryRecord(**obj)
    if kind == "feedback":
        return Feedback(**obj)
    raise ValueError(f"unknown type {kind!r}; expected trajectory, pair, record or feedback")


class ImportReport(dict[str, Any]):
    pass


def _tombstones(bank: Bank) -> dict[str, set[str]]:
    """{kind: values} of the forgotten table: trajectory, pair and record ids, model and agent names."""
    out: dict[str, set[str]] = {}
    if bank.count("forgotten") == 0:
        return out
    tbl = bank._arrow("forgotten", ["kind", "value"])
    for kind, value in zip(tbl.column("kind").to_pylist(), tbl.column("value").to_pylist(), strict=True):
        out.setdefault(kind, set()).add(value)
    return out


def _forgotten_names(obj: Any) -> list[tuple[str, str]]:
    """The (kind, value) pairs that would make this object forgotten."""
    if isinstance(obj, Trajectory):
        return [("trajectory", obj.id), ("model", obj.model)] + ([("agent", obj.agent)] if obj.agent else [])
    if isinstance(obj, ContrastPair):
        return [("pair", obj.id), ("trajectory", obj.preferred_id), ("trajectory", obj.unpreferred_id),
                ("model", obj.preferred_model), ("model", obj.unpreferred_model)]
    if isinstance(obj, MemoryRecord):
        return ([("record", obj.id)] + [("pair", p) for p in obj.pair_ids]
                + [("model", m) for m in (*obj.preferred_models, *obj.unpreferred_models)])
    return [("record", obj.record_id)]  # feedback on a forgotten record


def import_jsonl(bank: Bank, lines: Iterable[str], progress: Callable[[str], None] | None = None,
                 include_forgotten: bool = False) -> ImportReport:
    """Import objects, in batches. Bad lines are reported (line number and reason) and skipped; the good
    ones are stored. Forgotten objects are skipped and counted in report["forgotten"] unless
    include_forgotten. Returns counts and the task ids of trajectories that arrived without ids (to pair)."""
    say = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    buckets: dict[type, list[Any]] = {Trajectory: [], ContrastPair: [], MemoryRecord: [], Feedback: []}
    report = ImportReport(read=0, stored={"trajectory": 0, "pair": 0, "record": 0, "feedback": 0},
                          forgotten={"trajectory": 0, "pair": 0, "record": 0, "feedback": 0},
                          errors=[], tasks_to_pair=set())
    stones = _tombstones(bank)
    lifted: set[tuple[str, str]] = set()
    started = last = time.monotonic()

    def flush() -> None:
        report["stored"]["trajectory"] += bank.add_trajectories(buckets[Trajectory])
        report["stored"]["pair"] += bank.add_pairs(buckets[ContrastPair])
        report["stored"]["record"] += bank.add_records(buckets[MemoryRecord])
        report["stored"]["feedback"] += bank.add_feedback(buckets[Feedback])
        for b in buckets.values():
            b.clear()

    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        report["read"] += 1
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            minimal_trajectory = raw.get("type") == "trajectory" and "id" not in raw
            obj = parse_line(raw)
        except (ValueError, ValidationError, TypeError) as err:
            report["errors"].append(f"line {n}: {err}".splitlines()[0][:300])
            continue
        hits = [(k, v) for k, v in _forgotten_names(obj) if v in stones.get(k, ())]
        if hits and not include_forgotten:
            kind = KINDS[type(obj)]
            report["forgotten"][kind] += 1
            # what hangs on a skipped object is skipped with it (a pair of a skipped trajectory, ...)
            stones.setdefault(kind, set()).add(obj.id)
            continue
        lifted.update(hits)
        buckets[type(obj)].append(obj)
        if minimal_trajectory:
            report["tasks_to_pair"].add(obj.task_id)  # type: ignore[union-attr]
        if sum(len(b) for b in buckets.values()) >= BATCH:
            flush()
        if time.monotonic() - last > 1.0:
            last = time.monotonic()
            say(f"imported {report['read']} lines ({report['read'] / (last - started):.0f}/s)")
    flush()
    if lifted:
        for kind in {k for k, _ in lifted}:
            bank.delete("forgotten", f"{eq('kind', kind)} AND {is_in('value', [v for k, v in lifted if k == kind])}")
    return report
