"""Bank record updates against a real LanceDB store in a temp dir: support from new contrasts."""

from __future__ import annotations

from conftest import import_records, record_line
from memcollab.store.bank import Bank


def _one_record(bank: Bank) -> str:
    import_records(bank, [record_line("math", "algebra", "Solve 2x + 3 = 7",
                                      ("solving a linear equation", "isolate x step by step", "guessing"))])
    (rec,) = bank.records()
    return rec.id


def test_add_support_with_no_outcome_sources_on_either_side(bank):
    record_id = _one_record(bank)
    assert bank.get_records([record_id])[record_id].outcome_sources == []
    bank.add_support(record_id, "p-new", "model-a", "model-b")
    rec = bank.get_records([record_id])[record_id]
    assert rec.support == 2 and rec.pair_ids[-1] == "p-new" and rec.outcome_sources == []
    assert "model-a" in rec.preferred_models and "model-b" in rec.unpreferred_models
