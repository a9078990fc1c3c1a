"""Tool `get_constraints`: the read lane, over `memcollab.store.retrieve.retrieve`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Literal

import anyio.to_thread
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field, field_validator

from memcollab.store.models import MAX_NAME, MAX_TASK, clean_text
from memcollab.store.retrieve import MAX_LIMIT, Retrieval, retrieve

from .errors import tool_errors, validated

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from ..memory import Memory


class Query(BaseModel):
    task: str = Field(min_length=1, max_length=MAX_TASK)
    category: str | None = Field(default=None, max_length=MAX_NAME)
    subcategory: str | None = Field(default=None, max_length=MAX_NAME)
    model: str | None = Field(default=None, max_length=MAX_NAME)
    limit: int = Field(default=3, ge=1, le=MAX_LIMIT)
    rank: Literal["bm25", "vector", "hybrid"] | None = None

    @field_validator("task", "category", "subcategory", "model", mode="after")
    @classmethod
    def _clean(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = clean_text(v).strip()
        return v or None

    @field_validator("task", mode="after")
    @classmethod
    def _task(cls, v: str | None) -> str:
        if not v:
            raise ValueError("task is empty; send the task you are about to solve")
        return v


def register(server: MCPServer, memory: Memory) -> None:
    @server.tool(annotations=ToolAnnotations(
        title="Get constraints for a task", read_only_hint=True, destructive_hint=False,
        idempotent_hint=True, open_world_hint=False))
    @tool_errors
    async def get_constraints(
        task: Annotated[str, Field(description="The task you are about to solve")],
        category: Annotated[str | None, Field(description="Category from memcollab://taxonomy")] = None,
        subcategory: Annotated[str | None, Field(description="Subcategory from memcollab://taxonomy")] = None,
        model: Annotated[str | None, Field(description="Your model name (for feedback statistics)")] = None,
        limit: Annotated[int, Field(description="How many records (each up to 3 constraints); 3 is best")] = 3,
        rank: Annotated[str | None, Field(
            description="'bm25' (default), 'vector' or 'hybrid' (reciprocal rank fusion of both)")] = None,
    ) -> Retrieval:
        """Fetch the shared constraints for this kind of task: records with the same (category, subcategory),
        ranked by similarity to the task; falls back to the category, then to all records, and says which
        level matched. Without a category the server classifies the task itself (classified_by, confidence).
        Put `guidance` in your prompt as advice."""
        q = validated(Query, task=task, category=category, subcategory=subcategory, model=model, limit=limit,
                      rank=rank)
        if in_memory(memory, q):  # no worker thread: a hop costs about as much as the whole answer
            return constraints_for(memory, q)
        return await anyio.to_thread.run_sync(constraints_for, memory, q)


def in_memory(memory: Memory, q: Query) -> bool:
    """Whether the answer comes from this process's caches at the cost of a stat per table: a caller-tagged BM25
    query on a local bank that is already open. Anything that may wait (opening the bank, the model, an object
    store's version check) runs on a worker thread instead."""
    return (bool(q.category) and (q.rank or memory.settings.rank) == "bm25"
            and memory.bank.open_locally("records", "feedback"))


def constraints_for(memory: Memory, q: Query) -> Retrieval:
    """What get_constraints answers for a validated query (the prompt solve_with_memory uses it too)."""
    ranking = q.rank or memory.settings.rank
    started = time.monotonic()
    embedder = memory.embedder(wait=not q.category or ranking != "bm25")
    if embedder is not None and not q.category:
        # The classifier sees only records that have a vector: wait for the backfill within the same bound
        # (MEMCOLLAB_EMBED_WAIT); past it the answer says classified_by "partial" and how many it saw.
        memory.indexer.wait_covered(embedder, memory.settings.embed_wait - (time.monotonic() - started))
    return retrieve(memory.bank, q.task, q.category, q.subcategory, q.limit, ranking,  # type: ignore[arg-type]
                    embedder, memory.taxonomy)
