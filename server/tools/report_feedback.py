"""Tool `report_feedback`: a consuming agent says whether retrieved records helped (feeds ranking)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from memcollab.store.bank import Bank
from memcollab.store.models import MAX_NAME, Answer, Feedback, clean_text, content_id, now

from .errors import tool_errors, validated

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from ..memory import Memory


class FeedbackIn(BaseModel):
    record_ids: list[Annotated[str, Field(min_length=1, max_length=MAX_NAME)]] = Field(min_length=1, max_length=20)
    helped: bool
    model: str = Field(default="", max_length=MAX_NAME)


class FeedbackResult(Answer):
    recorded: int
    counts: dict[str, dict[str, int]] = Field(description="per record: helped / not_helped in all")


def report(bank: Bank, item: FeedbackIn) -> FeedbackResult:
    ids = list(dict.fromkeys(item.record_ids))
    known = bank.get_records(ids)
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ToolError(f"unknown record ids {unknown[:5]}; use record_id values from get_constraints. "
                        "Nothing was recorded.")
    stamp = now()
    model = clean_text(item.model).strip()
    bank.add_feedback([Feedback(id="f-" + content_id("feedback", rid, model, item.helped, stamp.isoformat()),
                                record_id=rid, helped=item.helped, model=model, created_at=stamp) for rid in ids])
    return FeedbackResult(recorded=len(ids), counts=bank.feedback_counts(ids))


def register(server: MCPServer, memory: Memory) -> None:
    @server.tool(annotations=ToolAnnotations(
        title="Report whether constraints helped", read_only_hint=False, destructive_hint=False,
        idempotent_hint=False, open_world_hint=False))
    @tool_errors
    def report_feedback(
        record_ids: Annotated[list[str], Field(description="record_id values from get_constraints")],
        helped: Annotated[bool, Field(description="true if the constraints helped you solve the task")],
        model: Annotated[str | None, Field(description="Your model name")] = None,
    ) -> FeedbackResult:
        """Tell the shared memory whether the records you used helped. Helpful records rank higher for everyone."""
        result = report(memory.bank, validated(FeedbackIn, record_ids=record_ids, helped=helped, model=model or ""))
        memory.written()
        return result
