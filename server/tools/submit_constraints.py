"""Tool `submit_constraints`: the client's distillation of one pair, through the same validator and dedup."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from memcollab.distill.prompt import PROMPT_VERSION
from memcollab.distill.store_constraints import store_distilled
from memcollab.distill.validate import DistillOutput
from memcollab.store.models import MAX_NAME, Answer

from .errors import tool_errors, validated

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from ..memory import Memory


class Rejection(BaseModel):
    text: str
    reason: str


class Stored(Answer):
    pair_id: str
    status: str
    record_id: str | None
    stored: int
    merged: int
    rejected: int
    rejections: list[Rejection]


def submit_constraints_for(memory: Memory, pair_id: str, output: DistillOutput, distiller: str | None) -> Stored:
    bank = memory.bank
    pair = bank.get_pair(pair_id)
    if pair is None:
        raise ToolError(f"no contrast pair {pair_id!r}; call next_contrast for a pair id")
    if pair.status == "distilled":
        raise ToolError(f"pair {pair_id} was already distilled; call next_contrast for another")
    res = store_distilled(bank, pair, output, distiller or "mcp-client", PROMPT_VERSION, memory.embedder(wait=False))
    after = bank.get_pair(pair_id)
    return Stored(pair_id=pair_id, status=after.status if after else "unknown", record_id=res.record_id,
                  stored=res.stored, merged=res.merged, rejected=res.rejected,
                  rejections=[Rejection(text=t, reason=r) for t, r in res.rejections])


def register(server: MCPServer, memory: Memory) -> None:
    @server.tool(annotations=ToolAnnotations(
        title="Submit distilled constraints", read_only_hint=False, destructive_hint=False, idempotent_hint=False,
        open_world_hint=False))
    @tool_errors
    def submit_constraints(
        pair_id: Annotated[str, Field(description="The pair_id from next_contrast", max_length=MAX_NAME)],
        category: Annotated[str, Field(description="Category from the taxonomy")],
        constraints: Annotated[list[dict[str, Any]] | str, Field(
            description='At most 3 objects {"when": ..., "enforce": ..., "avoid": ...} (or that list as JSON)')],
        subcategory: Annotated[str, Field(description="Subcategory from the taxonomy")] = "",
        distiller: Annotated[str | None, Field(description="Your model name, recorded as the distiller")] = None,
    ) -> Stored:
        """Store the constraints you distilled from a pair. They pass the same checks as offline distillation
        (abstract, no task numbers or copied phrases, no code, no model names); rejected ones come back with
        the reason."""
        if isinstance(constraints, str):
            try:
                constraints = json.loads(constraints)
            except json.JSONDecodeError:
                raise ToolError("constraints must be a list of {when, enforce, avoid} objects or that list as JSON") from None
        output = validated(DistillOutput, category=category, subcategory=subcategory, constraints=constraints)
        result = submit_constraints_for(memory, pair_id, output, distiller)
        memory.written()
        return result
