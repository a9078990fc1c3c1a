"""The one validate-and-store function both distillation paths end in (litellm job and MCP client).

Per proposed constraint: validate (distill/validate.py); a survivor that says what an existing constraint
in the same (category, subcategory) already says raises that record's support instead of being copied
(same normalized words, or cosine similarity ≥ DEDUP_COSINE between their embeddings when an embedder is
given); the rest form the pair's new record. Idempotent per pair: the new record's id derives from the
pair id and merges are skipped for a pair already counted, so a rerun after a crash adds no duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memcollab.store.bank import Bank, eq
from memcollab.store.models import (
    Constraint,
    ConstraintVerdict,
    ContrastPair,
    MemoryRecord,
    Trajectory,
    content_id,
)

from .validate import DistillOutput, Source, normalize, validate

DEDUP_COSINE = 0.90


@dataclass
class StoreResult:
    record_id: str | None = None
    stored: int = 0
    merged: int = 0
    rejected: int = 0
    merged_into: list[str] = field(default_factory=list)
    rejections: list[tuple[str, str]] = field(default_factory=list)


def _tag_where(category: str, subcategory: str) -> str:
    return f"{eq('category', category)} AND {eq('subcategory', subcategory)}"


def _duplicates(bank: Bank, category: str, subcategory: str, new: list[Constraint],
                embedder: Any | None) -> dict[int, str]:
    """{index in new: record id of an existing record that already says it}."""
    existing = [(r.id, c) for r in bank.records(_tag_where(category, subcategory)) for c in r.constraints]
    if not existing:
        return {}
    by_text = {normalize(c): rid for rid, c in existing}
    found = {i: by_text[normalize(c)] for i, c in enumerate(new) if normalize(c) in by_text}
    rest = [i for i in range(len(new)) if i not in found]
    if embedder is not None and rest:
        old = embedder.encode([c.text() for _, c in existing])
        fresh = embedder.encode([new[i].text() for i in rest])
        sims = fresh @ old.T
        for row, i in enumerate(rest):
            j = int(sims[row].argmax())
            if float(sims[row, j]) >= DEDUP_COSINE:
                found[i] = existing[j][0]
    return found


def store_distilled(bank: Bank, pair: ContrastPair, output: DistillOutput, distiller: str, prompt_version: str,
                    embedder: Any | None = None, trajs: dict[str, Trajectory] | None = None) -> StoreResult:
    """`trajs`: the pair's two trajectories by id, when the caller has them already."""
    trajs = trajs or bank.get_trajectories([pair.preferred_id, pair.unpreferred_id])
    sources = sorted({t.outcome_source for t in trajs.values()})  # a judged outcome stays visible on the record
    task = next((t.task for t in trajs.values()), "")
    verdict = validate(output, Source(task=task, trajectories=list(trajs.values())))
    category, subcategory = output.category.strip(), output.subcategory.strip()
    res = StoreResult(rejected=len(verdict.rejected), rejections=verdict.rejected)
    dups = _duplicates(bank, category, subcategory, verdict.constraints, embedder)
    for rid in dict.fromkeys(dups.values()):
        bank.add_support(rid, pair.id, pair.preferred_model, pair.unpreferred_model, sources)
    res.merged, res.merged_into = len(dups), list(dict.fromkeys(dups.values()))
    fresh = [c for i, c in enumerate(verdict.constraints) if i not in dups]
    if fresh:
        record = MemoryRecord(
            id="r-" + content_id("record-from-pair", pair.id), category=category, subcategory=subcategory,
            constraints=fresh, task=task, preferred_models=[pair.preferred_model],
            unpreferred_models=[pair.unpreferred_model], distiller=distiller, prompt_version=prompt_version,
            pair_ids=[pair.id], outcome_sources=sources)
        bank.add_records([record])
        if embedder is not None:  # the model is at hand: the record's vector now, not in a later backfill
            from memcollab.store.vectors import add_record_vectors

            add_record_vectors(bank, embedder, [record])
        res.record_id, res.stored = record.id, len(fresh)
    verdicts = [("stored", "", c.text()) for i, c in enumerate(verdict.constraints) if i not in dups]
    verdicts += [("merged", f"into {dups[i]}", c.text()) for i, c in enumerate(verdict.constraints) if i in dups]
    verdicts += [("rejected", reason, text) for text, reason in verdict.rejected]
    bank.add_verdicts([ConstraintVerdict(id="v-" + content_id("verdict", pair.id, n, v, t), pair_id=pair.id,
                                         verdict=v, reason=reason, text=t[:2000], distiller=distiller)
                       for n, (v, reason, t) in enumerate(verdicts)])
    record_ids = ([res.record_id] if res.record_id else []) + res.merged_into
    if record_ids:
        bank.set_pair(pair.id, status="distilled", attempts=pair.attempts + 1, record_ids=record_ids)
    else:
        bank.set_pair(pair.id, status="skipped", attempts=pair.attempts + 1,
                      last_error="no constraint survived validation: "
                                 + "; ".join(sorted({r for _, r in verdict.rejected}))[:500])
    return res
