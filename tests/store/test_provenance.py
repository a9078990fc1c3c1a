"""Who sent what (store/provenance.py), in-process against real LanceDB in a temp dir."""

from __future__ import annotations

import pytest

from memcollab.store.models import content_id
from memcollab.store.provenance import record, senders


@pytest.mark.anyio
async def test_senders_are_recorded_per_item_once_per_agent_in_order(bank):
    assert await record(bank, "trajectory", [], "agent-a") == 0
    assert await record(bank, "trajectory", ["t1", "t2", "t1"], "agent-a") == 2  # a repeated ref is one row
    assert await record(bank, "trajectory", ["t1"], "agent-b") == 1
    assert await record(bank, "trajectory", ["t1"], "agent-a") == 1  # appended again, hidden on read
    assert senders(bank, "trajectory", "t1") == ["agent-a", "agent-b"]
    assert senders(bank, "trajectory", "t2") == ["agent-a"]
    assert senders(bank, "feedback", "t1") == []  # kinds do not mix
    await record(bank, "forget", ["model:m'; DROP"], "agent-c")
    assert senders(bank, "forget", "model:m'; DROP") == ["agent-c"]
    rows = bank.table("provenance").search().limit(None).to_list()
    ids = {r["id"] for r in rows}
    assert "s-" + content_id("sent", "trajectory", "t1", "agent-b") in ids
    assert {(r["kind"], r["ref"], r["sent_by"]) for r in rows} >= {("trajectory", "t2", "agent-a"),
                                                                    ("forget", "model:m'; DROP", "agent-c")}
