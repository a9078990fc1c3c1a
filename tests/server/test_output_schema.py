"""The published output schemas: compact (cheap for every client to check) and exactly as strict as pydantic's;
and which get_constraints calls are answered on the event loop instead of a worker thread."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from jsonschema import validators
from pydantic import BaseModel, Field

from conftest import call, import_records, memory_client, record_line
from memcollab.server.memory import Memory
from memcollab.server.settings import Settings
from memcollab.server.tools.get_constraints import Query, in_memory
from memcollab.store.bank import Bank
from memcollab.store.models import compact_schema

pytestmark = pytest.mark.anyio


class Inner(BaseModel):
    when: str = Field(min_length=1, max_length=5)
    score: float | None = None


class Outer(BaseModel):
    items: list[Inner]
    mode: Literal["a", "b"] | None = None
    count: int | None = Field(default=None, description="kept")
    name: str


def verdicts(schema: dict[str, Any], instances: list[Any]) -> list[bool]:
    v = validators.validator_for(schema)(schema)
    return [v.is_valid(i) for i in instances]


def test_compact_schema_accepts_and_rejects_exactly_what_the_original_does():
    original = Outer.model_json_schema()
    assert "$defs" in original  # the case worth compacting: refs and optional fields
    compact = compact_schema(original, lambda ref: original["$defs"][ref["$ref"].rsplit("/", 1)[1]])
    text = json.dumps(compact)
    assert "$ref" not in text and '"title"' not in text and '"description": "kept"' in text
    instances = [
        {"items": [], "name": "x"},
        {"items": [{"when": "w"}], "name": "x", "count": None, "mode": None},
        {"items": [{"when": "w", "score": None}], "name": "x", "count": 3, "mode": "a"},
        {"items": [{"when": "w", "score": 0.5}], "name": "x"},
        {"items": [{"when": ""}], "name": "x"},  # too short
        {"items": [{"when": "toolong"}], "name": "x"},  # too long
        {"items": [{"when": "w", "score": "high"}], "name": "x"},  # wrong type in a nullable field
        {"items": [{}], "name": "x"},  # required inside an inlined definition
        {"items": [], "name": "x", "count": "3"},
        {"items": [], "name": "x", "count": 2.5},
        {"items": [], "name": "x", "mode": "c"},  # an enum that also allows null
        {"items": [], "name": None},  # required, not nullable
        {"items": None, "name": "x"},
        {"name": "x"},
    ]
    expected = verdicts(original, instances)
    assert expected == [True] * 4 + [False] * 10
    assert verdicts(compact, instances) == expected


async def test_every_tool_publishes_a_compact_schema_its_answers_meet(store):
    import_records(Bank(store), [
        record_line("Algebra", "Linear Equations", "Solve 2x + 3 = 7", ("solving", "isolate x", "sign slips"))])
    async with memory_client(store) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        for name, tool in tools.items():
            if tool.output_schema is not None:
                assert "$ref" not in json.dumps(tool.output_schema), name
        schema = tools["get_constraints"].output_schema
        answer = await call(c, "get_constraints", {"task": "Solve 3x - 1 = 8", "category": "Algebra",
                                                   "subcategory": "Linear Equations"})
        assert answer["records"] and answer["confidence"] is None  # a null that the schema must allow
        v = validators.validator_for(schema)(schema)
        assert v.is_valid(answer)
        assert not v.is_valid({**answer, "confidence": "high"})
        assert not v.is_valid({**answer, "records": [{**answer["records"][0], "constraints": [{"when": "x"}]}]})


def test_only_tagged_bm25_queries_on_an_open_local_bank_skip_the_worker_thread(store):
    memory = Memory(Settings(store=store, warm_up=False))
    tagged = Query(task="t", category="Algebra")
    assert not in_memory(memory, tagged)  # the bank is not open yet: opening it may take seconds
    memory.bank.table("records")
    memory.bank.table("feedback")
    assert in_memory(memory, tagged)
    assert not in_memory(memory, Query(task="t"))  # untagged: classification needs the model
    assert not in_memory(memory, Query(task="t", category="Algebra", rank="vector"))
    s3 = Memory(Settings(store="s3://bucket/bank", warm_up=False))
    s3.bank._tables.update(memory.bank._tables)  # as if open: an object store's version check is a request
    assert not in_memory(s3, tagged)
