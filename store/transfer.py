"""Export and import: JSONL, one object per line with "type": trajectory | pair | record | feedback.

Export writes every stored object whole, so export → import into an empty store is lossless. Import also
takes minimal lines: a trajectory without "id" (as a client would submit it) and a record with only
category, subcategory, task and constraints.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

from pydantic import ValidationError

from .bank import Bank
from .models import ContrastPair, Feedback, MemoryRecord, Trajectory, TrajectoryIn

BATCH = 2000


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


def import_jsonl(bank: Bank, lines: Iterable[str], progress: Callable[[str], None] | None = None) -> ImportReport:
    """Import objects, in batches. Bad lines are reported (line number and reason) and skipped; the good
    ones are stored. Returns counts and the task ids of trajectories that arrived without ids (to pair)."""
    say = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    buckets: dict[type, list[Any]] = {Trajectory: [], ContrastPair: [], MemoryRecord: [], Feedback: []}
    report = ImportReport(read=0, stored={"trajectory": 0, "pair": 0, "record": 0, "feedback": 0},
                          errors=[], tasks_to_pair=set())
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
        buckets[type(obj)].append(obj)
        if minimal_trajectory:
            report["tasks_to_pair"].add(obj.task_id)  # type: ignore[union-attr]
        if sum(len(b) for b in buckets.values()) >= BATCH:
            flush()
        if time.monotonic() - last > 1.0:
            last = time.monotonic()
            say(f"imported {report['read']} lines ({report['read'] / (last - started):.0f}/s)")
    flush()
    return report
