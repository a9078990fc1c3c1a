"""The read lane (METHOD.md step 5): tag → hard filter → rank → top p → guidance block.

Paper-faithful default: records are hard-filtered on (category, subcategory) and ranked by BM25 against
the query task. When the exact tag has no records we fall back to the category, then to all records,
and say which level matched. Every read path (MCP tool, CLI, benchmarks) calls `retrieve`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from .bank import Bank, eq
from .models import Constraint, MemoryRecord

Match = Literal["subcategory", "category", "any", "none"]
DEFAULT_LIMIT = 3
MAX_LIMIT = 20
_MAX_QUERY_TERMS = 64
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class RetrievedRecord(BaseModel):
    record_id: str
    category: str
    subcategory: str
    constraints: list[Constraint]
    source_models: list[str]
    support: int
    score: float = Field(description="BM25 score of the record's task + constraint text against the query "
                                     "(0 when the record was taken to fill the tag with no word overlap)")


class Retrieval(BaseModel):
    records: list[RetrievedRecord]
    match: Match
    category: str | None = None
    subcategory: str | None = None
    guidance: str


def query_terms(task: str) -> str:
    """The words of the task as a plain BM25 query: no query syntax from the client reaches the parser."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(task.lower()):
        if len(w) > 1 and w not in seen:
            seen[w] = None
            if len(seen) >= _MAX_QUERY_TERMS:
                break
    return " ".join(seen)


def _levels(category: str | None, subcategory: str | None) -> list[tuple[Match, str | None]]:
    levels: list[tuple[Match, str | None]] = []
    if category and subcategory:
        levels.append(("subcategory", f"{eq('category', category)} AND {eq('subcategory', subcategory)}"))
    if category:
        levels.append(("category", eq("category", category)))
    levels.append(("any", None))
    return levels


def rank_bm25(bank: Bank, task: str, where: str | None, limit: int) -> list[tuple[MemoryRecord, float]]:
    """BM25 inside the filter; when fewer than `limit` records share a word with the query, the rest of
    the filtered records (most supported first) fill the list with score 0."""
    terms = query_terms(task)
    hits = bank.search_records(terms, where, limit) if terms else []
    if len(hits) < limit:
        have = {r.id for r, _ in hits}
        extra = [r for r in bank.records(where, limit=limit + len(have) + 50) if r.id not in have]
        extra.sort(key=lambda r: (-r.support, r.id))
        hits += [(r, 0.0) for r in extra[: limit - len(hits)]]
    return hits


def retrieve(bank: Bank, task: str, category: str | None = None, subcategory: str | None = None,
             limit: int = DEFAULT_LIMIT) -> Retrieval:
    limit = max(1, min(int(limit), MAX_LIMIT))
    if bank.count("records") == 0:
        return Retrieval(records=[], match="none", category=category, subcategory=subcategory,
                         guidance=guidance_block([], "none", category, subcategory))
    for level, where in _levels(category, subcategory):
        hits = rank_bm25(bank, task, where, limit)
        if hits:
            records = [RetrievedRecord(
                record_id=r.id, category=r.category, subcategory=r.subcategory, constraints=r.constraints,
                source_models=sorted(set(r.preferred_models) | set(r.unpreferred_models)), support=r.support,
                score=round(s, 4)) for r, s in hits]
            return Retrieval(records=records, match=level, category=category, subcategory=subcategory,
                             guidance=guidance_block(records, level, category, subcategory))
    return Retrieval(records=[], match="none", category=category, subcategory=subcategory,
                     guidance=guidance_block([], "none", category, subcategory))


def guidance_block(records: list[RetrievedRecord], match: Match, category: str | None,
                   subcategory: str | None) -> str:
    """The ready-to-paste prompt block. Constraints are presented as advice with their provenance,
    never as commands or system text."""
    if not records:
        return ""
    tag = " > ".join(x for x in (category, subcategory) if x) or "any task"
    scope = {
        "subcategory": f"tasks tagged {tag}",
        "category": f"tasks in the same category as {tag} (no records for the exact subcategory)",
        "any": "the whole bank (no records for this task's category); weigh them lightly",
    }.get(match, "")
    lines = [
        "Shared memory guidance (memcollab). These are lessons distilled by comparing correct and incorrect",
        f"solutions that other agents produced on {scope}. They are advice to check your reasoning against,",
        "not instructions: use the ones that fit this task and ignore the rest.",
    ]
    n = 0
    for r in records:
        src = ", ".join(r.source_models) if r.source_models else "unrecorded models"
        contrasts = "contrast" if r.support == 1 else "contrasts"
        for c in r.constraints:
            n += 1
            lines.append(f"{n}. {c.text()} [{r.category} > {r.subcategory or '-'}; "
                         f"supported by {r.support} {contrasts}; from {src}]")
    return "\n".join(lines)
