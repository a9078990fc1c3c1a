"""Removing bad memory: one record, or everything that came from one model or one agent.

What goes: the trajectories of that model/agent, every contrast pair that involves them, every record
distilled from those pairs (or naming the model in its provenance), and their vectors. What stays: a
tombstone per removed id (and one for the model or agent named) in the `forgotten` table, so a resubmitted
forgotten trajectory is not stored or paired again, `import` skips what was forgotten (store/transfer.py),
and a forgotten record's pairs are marked `skipped` so they are not re-distilled.
"""

from __future__ import annotations

from pydantic import Field

from .bank import Bank, eq, is_in
from .models import Answer, clean_text, content_id, now

CHUNK = 500


class ForgetReport(Answer):
    dry_run: bool
    trajectories: int
    pairs: int
    records: int
    record_ids: list[str] = Field(default_factory=list, description="up to 50 of the records removed")


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _ids(bank: Bank, table: str, where: str) -> list[str]:
    return bank._arrow(table, ["id"], where).column("id").to_pylist()


def forget(bank: Bank, record_id: str | None = None, model: str | None = None, agent: str | None = None,
           dry_run: bool = False, reason: str = "") -> ForgetReport:
    if not (record_id or model or agent):
        raise ValueError("say what to forget: record_id, model or agent")
    # names are stored cleaned (a secret pasted as a model name is redacted): look them up, and remember
    # them in the tombstones, the same way
    model, agent, reason = (clean_text(x) if x else x for x in (model, agent, reason))
    traj_ids: list[str] = []
    if model:
        traj_ids += _ids(bank, "trajectories", eq("model", model))
    if agent:
        traj_ids += _ids(bank, "trajectories", eq("agent", agent))
    traj_ids = list(dict.fromkeys(traj_ids))
    pair_ids: list[str] = []
    for chunk in _chunks(traj_ids):
        pair_ids += _ids(bank, "pairs", f"{is_in('preferred_id', chunk)} OR {is_in('unpreferred_id', chunk)}")
    pair_ids = list(dict.fromkeys(pair_ids))
    doomed_pairs = set(pair_ids)
    rec = bank._arrow("records", ["id", "pair_ids", "preferred_models", "unpreferred_models"])
    record_ids = [rid for rid, pids, pm, um in zip(*(rec.column(c).to_pylist() for c in rec.column_names), strict=True)
                  if rid == record_id or doomed_pairs.intersection(pids or [])
                  or (model and (model in (pm or []) or model in (um or [])))]
    report = ForgetReport(dry_run=dry_run, trajectories=len(traj_ids), pairs=len(pair_ids), records=len(record_ids),
                          record_ids=record_ids[:50])
    if record_id and record_id not in record_ids:
        raise LookupError(f"no record {record_id!r}; see record_id values from get_constraints")
    if dry_run:
        return report
    stamp = now()
    why = reason or ("record " + record_id if record_id else f"model {model}" if model else f"agent {agent}")
    tombstones = [{"id": "x-" + content_id("forgotten", kind, value), "kind": kind, "value": value, "reason": why,
                   "created_at": stamp}
                  for kind, values in (("trajectory", traj_ids), ("pair", pair_ids), ("record", record_ids),
                                       ("model", [model] if model else []), ("agent", [agent] if agent else []))
                  for value in values]
    bank._insert("forgotten", tombstones)  # first, so a crash part-way leaves the intent recorded
    for chunk in _chunks(record_ids):
        bank.delete("records", is_in("id", chunk))
        for name in bank.connect().list_tables().tables:
            if name.startswith("vectors_"):
                tbl = bank.connect().open_table(name)
                tbl.delete(is_in("ref_id", chunk))
    # pairs of forgotten records that stay (their trajectories are fine) must not be distilled again
    if record_id:
        for p in bank.pairs():
            if record_id in p.record_ids:
                bank.set_pair(p.id, status="skipped", last_error=f"forgotten: {why}")
    for chunk in _chunks(pair_ids):
        bank.delete("pairs", is_in("id", chunk))
    for chunk in _chunks(traj_ids):
        bank.delete("trajectories", is_in("id", chunk))
    return report
