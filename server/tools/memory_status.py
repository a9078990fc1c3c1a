"""Tool `memory_status` (and the `memcollab status` CLI): what the bank holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp.types import ToolAnnotations

from memcollab.store.status import Status, bank_status

from .errors import tool_errors

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from ..memory import Memory


def status(memory: Memory) -> Status:
    return bank_status(memory.bank, memory.settings.embeddings)


def register(server: MCPServer, memory: Memory) -> None:
    @server.tool(annotations=ToolAnnotations(
        title="Memory status", read_only_hint=True, destructive_hint=False, idempotent_hint=True,
        open_world_hint=False))
    @tool_errors
    def memory_status() -> Status:
        """Counts of trajectories, contrast pairs by status, memory records by category, and models seen."""
        memory.pairs_settled()
        return status(memory)
