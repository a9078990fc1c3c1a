"""Tool `forget` (destructive): remove a bad record, or everything from one model or agent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field, model_validator

from memcollab.store import forget as forgetting
from memcollab.store.forget import ForgetReport
from memcollab.store.models import MAX_NAME

from .errors import tool_errors, validated

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from ..memory import Memory


class ForgetIn(BaseModel):
    record_id: str | None = Field(default=None, max_length=MAX_NAME)
    model: str | None = Field(default=None, max_length=MAX_NAME)
    agent: str | None = Field(default=None, max_length=MAX_NAME)
    dry_run: bool = False

    @model_validator(mode="after")
    def _one(self) -> ForgetIn:
        if not (self.record_id or self.model or self.agent):
            raise ValueError("say what to forget: record_id, model or agent")
        return self


def register(server: MCPServer, memory: Memory) -> None:
    @server.tool(annotations=ToolAnnotations(
        title="Forget memory", read_only_hint=False, destructive_hint=True, idempotent_hint=True,
        open_world_hint=False))
    @tool_errors
    def forget(
        record_id: Annotated[str | None, Field(description="A record_id from get_constraints")] = None,
        model: Annotated[str | None, Field(description="Remove everything submitted by this model")] = None,
        agent: Annotated[str | None, Field(description="Remove everything submitted by this agent")] = None,
        dry_run: Annotated[bool, Field(description="Only report what would be removed")] = False,
    ) -> ForgetReport:
        """Remove a bad record, or every trajectory, contrast pair and record that came from one model or agent.
        Removed items are remembered so they are not stored or distilled again. Try dry_run first."""
        q = validated(ForgetIn, record_id=record_id, model=model, agent=agent, dry_run=dry_run)
        memory.pairs_settled()  # a pair queued for a trajectory being forgotten is written, then removed
        result = forgetting.forget(memory.bank, q.record_id, q.model, q.agent, q.dry_run)
        if not q.dry_run:
            memory.written()
        return result
