"""The MCP face: one module per tool (or resource group), each a thin `register(server, memory)`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from ..memory import Memory


def register_all(server: MCPServer, memory: Memory) -> None:
    from . import (
        distill_prompt,
        forget,
        get_constraints,
        memory_status,
        next_contrast,
        report_feedback,
        resources,
        solve_prompt,
        submit_constraints,
        submit_trajectory,
    )

    for module in (submit_trajectory, get_constraints, memory_status, resources, next_contrast,
                   submit_constraints, distill_prompt, report_feedback, forget, solve_prompt):
        module.register(server, memory)
