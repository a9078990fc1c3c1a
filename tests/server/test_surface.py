"""The MCP and CLI surface stays what it was (issue 22: no change a client or a script would notice).

tests/data/surface.json holds the surface as it was before issue 22's refactoring: every tool's input and output
JSON schemas and annotations, the resources, the prompts and their arguments (through the SDK's in-memory
Client), and every CLI subcommand's arguments (from build_parser: flags, dests, choices, defaults, types). The
test checks that nothing in it was removed or changed; additions pass (a new tool, a new optional output field,
a new flag or subcommand). Descriptions and help texts are wording, not surface, and are not compared.
Regenerate the file only for a deliberate change of the surface: `python tests/server/test_surface.py --write`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "surface.json"
# Where something new may appear: a name in one of these maps (a tool, a flag, a schema property) is an addition.
OPEN = {"tools", "resources", "resource_templates", "prompts", "cli", "arguments", "properties", "$defs"}


async def _mcp(store: Path) -> dict[str, Any]:
    from mcp import Client

    from memcollab.server.app import create_server
    from memcollab.server.settings import Settings

    async with Client(create_server(Settings(store=store, warm_up=False)), mode="legacy") as c:
        tools = (await c.list_tools()).tools
        resources = (await c.list_resources()).resources
        templates = (await c.list_resource_templates()).resource_templates
        prompts = (await c.list_prompts()).prompts

    def dump(m: Any) -> Any:
        return json.loads(m.model_dump_json(by_alias=True, exclude_none=True)) if m is not None else None

    return {
        "tools": {t.name: {"inputSchema": t.input_schema, "outputSchema": t.output_schema,
                           "annotations": dump(t.annotations)} for t in tools},
        "resources": {str(r.uri): {"name": r.name, "mimeType": r.mime_type} for r in resources},
        "resource_templates": {r.uri_template: {"name": r.name, "mimeType": r.mime_type} for r in templates},
        "prompts": {p.name: {"arguments": {a.name: {"required": bool(a.required)} for a in p.arguments or []}}
                    for p in prompts},
    }


def _cli() -> dict[str, Any]:
    from memcollab.server.cli import build_parser

    def plain(v: Any) -> Any:
        return v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)

    out: dict[str, Any] = {}

    def walk(p: argparse.ArgumentParser, name: str) -> None:
        args = {}
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sub, sp in a.choices.items():
                    walk(sp, f"{name} {sub}")
            elif not isinstance(a, argparse._HelpAction):
                args["/".join(a.option_strings) or a.dest] = {
                    "dest": a.dest, "nargs": plain(a.nargs), "choices": sorted(a.choices) if a.choices else None,
                    "default": plain(a.default), "required": a.required, "action": type(a).__name__,
                    "type": getattr(a.type, "__name__", repr(a.type)) if a.type else None}
        out[name] = {"arguments": args}

    walk(build_parser(), "memcollab")
    return out


def surface() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        mcp = asyncio.run(_mcp(Path(d) / "store"))
    return {"mcp": mcp, "cli": _cli()}


def changes(old: Any, new: Any, path: str = "") -> list[str]:
    """What `new` removed or changed of `old`; new names only count as additions inside an OPEN map."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = [f"removed {path}/{k}" for k in old if k not in new]
        if path.rsplit("/", 1)[-1] not in OPEN:
            found += [f"added {path}/{k}" for k in new if k not in old]
        for k in old:
            if k in new:
                found += changes(old[k], new[k], f"{path}/{k}")
        return found
    return [] if old == new else [f"changed {path}: {json.dumps(old)} -> {json.dumps(new)}"]


def test_nothing_of_the_mcp_or_cli_surface_was_removed_or_changed():
    before = json.loads(SNAPSHOT.read_text())
    assert changes(before, surface()) == []


@pytest.mark.parametrize("edit, expected", [
    (lambda s: s["mcp"]["tools"].pop("forget"), "removed /mcp/tools/forget"),
    (lambda s: s["cli"]["memcollab serve"]["arguments"].pop("--port"), "removed /cli/memcollab serve/arguments/--port"),
    (lambda s: s["cli"]["memcollab serve"]["arguments"]["--port"].update(default=1),
     "changed /cli/memcollab serve/arguments/--port/default"),
    (lambda s: s["mcp"]["tools"]["submit_trajectory"]["inputSchema"]["required"].append("agent"),
     "changed /mcp/tools/submit_trajectory/inputSchema/required"),
    (lambda s: s["mcp"]["tools"]["get_constraints"]["inputSchema"]["properties"]["task"].update(maxLength=1),
     "added /mcp/tools/get_constraints/inputSchema/properties/task/maxLength"),
    (lambda s: s["mcp"]["prompts"]["solve_with_memory"]["arguments"].clear(),
     "removed /mcp/prompts/solve_with_memory/arguments/task"),
], ids=["tool removed", "flag removed", "default changed", "input made required", "constraint added",
        "prompt argument removed"])
def test_the_comparison_bites(edit, expected):
    before = json.loads(SNAPSHOT.read_text())
    after = json.loads(SNAPSHOT.read_text())
    edit(after)
    found = changes(before, after)
    assert found and all(f.startswith(expected) for f in found), found
    # additions alone pass: a new tool, a new optional output field, a new flag, a new subcommand
    grown = json.loads(SNAPSHOT.read_text())
    grown["mcp"]["tools"]["new_tool"] = {"inputSchema": {}, "outputSchema": None, "annotations": None}
    grown["mcp"]["tools"]["memory_status"]["outputSchema"]["properties"]["new_field"] = {"type": "integer"}
    grown["cli"]["memcollab serve"]["arguments"]["--new-flag"] = {"dest": "new_flag"}
    grown["cli"]["memcollab contrast"] = {"arguments": {}}
    assert changes(before, grown) == []


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit(f"usage: python {sys.argv[0]} --write  (rewrites {SNAPSHOT})")
    SNAPSHOT.write_text(json.dumps(surface(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
