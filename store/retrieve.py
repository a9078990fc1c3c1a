"""The read lane (METHOD.md step 5): tag → hard filter → rank → top p → guidance block.

Paper-faithful default: records are hard-filtered on (category, subcategory) and ranked by BM25 against the
query task. With no tag from the caller, the server classifies the task (store/classify.py) when the
embedding model is loaded; when some records have no vector yet the answer says `classified_by: "partial"`
and how many records the classifier could see. When the tag has no records we fall back to the category,
then to all records, and say which level matched. Every read path (MCP tool, CLI, benchmarks) calls
`retrieve`.

Everything is read from the per-process caches (store/cache.py): a tag level's records and their BM25
index, the feedback tally and the vector matrix are each kept for one table version, so an unchanged bank
answers a query without a LanceDB read (two version checks).

Ranking inside the filter (`rank`):
- "bm25": BM25 score of the record's task + constraint text among the filtered records (store/bm25.py:
  LanceDB's full-text analysis, in memory; paper-faithful).
- "vector": cosine similarity between the task and the record's embedding.
- "hybrid": reciprocal rank fusion of both lists, score = Σ 1 / (RRF_K + rank), RRF_K = 60.
Then utility feedback adjusts the score: score × (1 + FEEDBACK_ALPHA · (helped − not_helped) /
(helped + not_helped + FEEDBACK_BETA)), so a record reported helpful 10 of 10 times gains ~42% and one
reported unhelpful as much loses ~42%; a record with no reports keeps its score.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from .bank import Bank
from .cache import TagIndex, caches
from .models import Answer, Constraint, MemoryRecord

Match = Literal["subcategory", "category", "any", "none"]
Rank = Literal["bm25", "vector", "hybrid"]
ClassifiedBy = Literal["caller", "server", "partial", "none"]
Level = tuple[str, ...]
DEFAULT_LIMIT = 3
MAX_LIMIT = 20
RRF_K = 60
FEEDBACK_ALPHA = 0.5
FEEDBACK_BETA = 2.0
_MAX_QUERY_TERMS = 64
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class RetrievedRecord(BaseModel):
    record_id: str
    category: str
    subcategory: str
    constraints: list[Constraint]
    source_models: list[str]
    support: int
    score: float = Field(description="bm25: BM25 score; vector: cosine similarity; hybrid: reciprocal-rank-fusion "
                                     "score; each times the feedback factor. 0 for records that only fill the tag "
                                     "(no word overlap / no vector yet)")


class Retrieval(Answer):
    records: list[RetrievedRecord]
    match: Match
    category: str | None = None
    subcategory: str | None = None
    classified_by: ClassifiedBy = "caller"
    confidence: float | None = Field(default=None, description="server classification confidence (vote share)")
    records_seen: int | None = Field(default=None, description=(
        "server classification: how many records had a vector, so the classifier could see them; when fewer "
        "than records_total (vectors still being computed) classified_by is 'partial'"))
    records_total: int | None = None
    rank: Rank = "bm25"
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


def _levels(category: str | None, subcategory: str | None) -> list[tuple[Match, Level]]:
    levels: list[tuple[Match, Level]] = []
    if category and subcategory:
        levels.append(("subcategory", ("subcategory", category, subcategory)))
    if category:
        levels.append(("category", ("category", category)))
    levels.append(("any", ("any",)))
    return levels


def _bm25(tag: TagIndex, task: str, k: int) -> list[tuple[MemoryRecord, float]]:
    terms = query_terms(task)
    return [(tag.records[i], s) for i, s in tag.bm25.top(terms, k)] if terms else []


def _vector(bank: Bank, tag: TagIndex, level: Level, embedder: Any, qvec: Any,
            k: int) -> list[tuple[MemoryRecord, float]]:
    from .vectors import nearest

    hits = nearest(bank, embedder, qvec, k, "record", *level[1:])
    return [(tag.by_id[row["ref_id"]], sim) for row, sim in hits if row["ref_id"] in tag.by_id]


def _rrf(*lists: list[tuple[MemoryRecord, float]]) -> list[tuple[MemoryRecord, float]]:
    scores: dict[str, float] = {}
    recs: dict[str, MemoryRecord] = {}
    for lst in lists:
        for i, (r, _) in enumerate(lst):
            scores[r.id] = scores.get(r.id, 0.0) + 1.0 / (RRF_K + i + 1)
            recs[r.id] = r
    return sorted(((recs[i], s) for i, s in scores.items()), key=lambda x: -x[1])


def _no_match(category: str | None, subcategory: str | None, classified_by: ClassifiedBy, rank: Rank,
              confidence: float | None = None, seen: int | None = None, total: int | None = None) -> Retrieval:
    return Retrieval(records=[], match="none", category=category, subcategory=subcategory,
                     classified_by=classified_by, confidence=confidence, records_seen=seen, records_total=total,
                     rank=rank, guidance="")


def feedback_factor(helped: int, not_helped: int) -> float:
    return 1.0 + FEEDBACK_ALPHA * (helped - not_helped) / (helped + not_helped + FEEDBACK_BETA)


def _with_feedback(bank: Bank, hits: list[tuple[MemoryRecord, float]]) -> list[tuple[MemoryRecord, float]]:
    if not hits:
        return hits
    tally = caches(bank).feedback_tally()
    if not tally:
        return hits
    adjusted = [(r, s * feedback_factor(*tally.get(r.id, (0, 0)))) for r, s in hits]
    return sorted(adjusted, key=lambda x: -x[1])


def rank_records(bank: Bank, task: str, level: Level, limit: int, rank: Rank = "bm25",
                 embedder: Any = None, qvec: Any = None, check: bool = True) -> list[tuple[MemoryRecord, float]]:
    """Top `limit` records of a tag level (see `_levels`). When fewer than `limit` match the query, the rest
    of the level's records (most supported first) fill the list with score 0."""
    tag = caches(bank).tag(level, check)
    if not tag.records:
        return []
    pool = limit * 3
    if rank == "bm25":
        hits = _bm25(tag, task, pool)
    elif rank == "vector":
        hits = _vector(bank, tag, level, embedder, qvec, pool)
    else:
        hits = _rrf(_bm25(tag, task, pool), _vector(bank, tag, level, embedder, qvec, pool))
    hits = _with_feedback(bank, hits)[:limit]
    if len(hits) < limit:
        have = {r.id for r, _ in hits}
        for r in tag.by_support():
            if len(hits) >= limit:
                break
            if r.id not in have:
                hits.append((r, 0.0))
    return hits


def retrieve(bank: Bank, task: str, category: str | None = None, subcategory: str | None = None,
             limit: int = DEFAULT_LIMIT, rank: Rank = "bm25", embedder: Any = None, taxonomy: Any = None,
             classify_threshold: float | None = None) -> Retrieval:
    """`embedder` may be None (model not loaded): then vector/hybrid ranking fall back to BM25 and an
    untagged task is searched over all records (classified_by "none")."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    classified_by: ClassifiedBy = "caller" if category else "none"
    confidence = seen = total = None
    if caches(bank).record_count() == 0:  # reads the records version; the levels below reuse it
        return _no_match(category, subcategory, classified_by, rank)
    if embedder is None:
        rank = "bm25"
    qvec = embedder.encode([task])[0] if embedder is not None and (rank != "bm25" or not category) else None
    if not category and embedder is not None:
        from .classify import CONFIDENCE_THRESHOLD, classify
        from .vectors import coverage

        seen, total = coverage(bank, embedder)
        c = classify(bank, embedder, task, taxonomy, classify_threshold or CONFIDENCE_THRESHOLD, qvec)
        if c is not None:
            category, subcategory, confidence = c.category, c.subcategory, c.confidence
            classified_by = "server" if seen >= total else "partial"
    for level, key in _levels(category, subcategory):
        hits = rank_records(bank, task, key, limit, rank, embedder, qvec, check=False)
        if hits:
            records = [RetrievedRecord(
                record_id=r.id, category=r.category, subcategory=r.subcategory, constraints=r.constraints,
                source_models=sorted(set(r.preferred_models) | set(r.unpreferred_models)), support=r.support,
                score=round(s, 6)) for r, s in hits]
            return Retrieval(records=records, match=level, category=category, subcategory=subcategory,
                             classified_by=classified_by, confidence=confidence, records_seen=seen,
                             records_total=total, rank=rank,
                             guidance=guidance_block(records, level, category, subcategory))
    return _no_match(category, subcategory, classified_by, rank, confidence, seen, total)


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

