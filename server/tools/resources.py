"""Resources: `memcollab://taxonomy` (so a client's model can tag its own tasks) and `memcollab://status`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .memory_status import status

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from ..memory import Memory


def register(server: MCPServer, memory: Memory) -> None:
    @server.resource("memcollab://taxonomy", name="taxonomy", mime_type="application/json",
                     description="Task categories and subcategories (math, code, reasoning) with descriptions. "
                                 "Tags are free strings; these are the ones the bank knows.")
    def taxonomy() -> str:
        return json.dumps(memory.taxonomy.as_json(), ensure_ascii=False)

    @server.resource("memcollab://status", name="status", mime_type="application/json",
                     description="What the shared bank holds (same as the memory_status tool).")
    def status_resource() -> str:
        return status(memory).model_dump_json()
