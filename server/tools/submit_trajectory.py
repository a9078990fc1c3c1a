"""Tool `submit_trajectory`: the write lane (validate → content-hash id → append → pair).

Concurrent calls in one server process share commits (store/group_commit.py): submissions that arrive
while a commit is in flight go together into the next append, each answered only after it. Their contrast
pairs are written just after, by the server's pairer (distill/pairer.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from memcollab.distill.pairing import Submitted, store_and_pair
from memcollab.store.bank import Bank
from memcollab.store.group_commit import GroupCommit
from memcollab.store.models import Answer, Trajectory, TrajectoryIn

from .errors import tool_errors, validated

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from ..memory import Memory


class SubmitResult(Answer):
    trajectory_id: str
    task_id: str
    stored: bool = Field(description="false when this exact trajectory was already in the bank")
    pending_pairs: int = Field(description="contrast pairs of this task waiting for distillation")


def result(s: Submitted) -> SubmitResult:
    t = s.trajectory
    if s.forgotten:
        raise ToolError(f"this trajectory ({t.id}) was removed with `forget` and is not stored again")
    return SubmitResult(trajectory_id=t.id, task_id=t.task_id, stored=s.stored, pending_pairs=s.pending_pairs)


def submit(bank: Bank, item: TrajectoryIn) -> SubmitResult:
    """One submission on its own (no group commit)."""
    return result(store_and_pair(bank, [item.to_trajectory()])[0])


def register(server: MCPServer, memory: Memory) -> None:
    def write(ts: list[Trajectory]) -> list[Submitted]:
        done = store_and_pair(memory.bank, ts, memory.pairer)
        memory.written()  # once per commit: maintenance counts appends (its work), not calls
        return done

    commits = GroupCommit(write)

    @server.tool(annotations=ToolAnnotations(
        title="Submit a reasoning trajectory", read_only_hint=False, destructive_hint=False,
        idempotent_hint=True, open_world_hint=False))
    @tool_errors
    async def submit_trajectory(
        task: Annotated[str, Field(description="The task statement exactly as solved (max 20,000 chars)")],
        model: Annotated[str, Field(description="The model that produced the trajectory, e.g. 'qwen2.5-7b'")],
        final_answer: Annotated[str, Field(description="The final answer or code")],
        outcome: Annotated[str, Field(description="'correct', 'incorrect' or 'unknown'")],
        steps: Annotated[list[str] | str | None, Field(
            description="Reasoning steps: a list of strings, a JSON-encoded list, or one string")] = None,
        task_id: Annotated[str | None, Field(
            description="Your id for the task; by default a hash of the task text, so agents meet on it")] = None,
        agent: Annotated[str | None, Field(description="Agent name, if several agents share a model")] = None,
        category: Annotated[str | None, Field(description="Category from memcollab://taxonomy, if known")] = None,
        subcategory: Annotated[str | None, Field(description="Subcategory, if known")] = None,
        metadata: Annotated[dict[str, Any] | str | None, Field(description="Any JSON object")] = None,
    ) -> SubmitResult:
        """Store one agent's attempt at a task. Correct and incorrect attempts by different models on the same
        task become contrast pairs that are distilled into shared constraints."""
        item = validated(TrajectoryIn, task=task, model=model, final_answer=final_answer, outcome=outcome,
                         steps=steps, task_id=task_id, agent=agent, category=category, subcategory=subcategory,
                         metadata=metadata)
        return result(await commits.submit(item.to_trajectory(record_match=True)))
