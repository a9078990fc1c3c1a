"""MCP prompt `distill_contrast`: walks the client's own model through distilling one pair."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .next_contrast import next_contrast_for

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from ..memory import Memory


def register(server: MCPServer, memory: Memory) -> None:
    @server.prompt(name="distill_contrast", title="Distil one contrast pair",
                   description="Distil the oldest pending contrast pair into shared constraints with your own model.")
    def distill_contrast() -> str:
        c = next_contrast_for(memory)
        if c.pair_id is None:
            return "memcollab has no pending contrast pair right now. Nothing to do."
        return (f"{c.instructions}\n\n{c.contrast}\n\nWhen you have the JSON object, call the tool "
                f"submit_constraints with pair_id={c.pair_id!r}, its category, subcategory and constraints.")
