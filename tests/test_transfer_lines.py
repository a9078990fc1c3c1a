"""Export/import line by line (store/transfer.py) against real LanceDB in temp dirs: the ids a line gets, the
errors a bad line gets, what export counts and how it writes non-ASCII text."""

from __future__ import annotations

import io
import json

import pytest

from conftest import import_records, record_line
from memcollab.store.bank import Bank
from memcollab.store.models import Constraint, MemoryRecord
from memcollab.store.transfer import export_jsonl, import_jsonl, parse_line

C = [{"when": "a linear equation", "enforce": "isolate the unknown", "avoid": "guessing"}]


def _record(**kw) -> dict:
    return {"type": "record", "category": "math", "subcategory": "algebra", "task": "Solve 2x = 4",
            "constraints": C, **kw}


def test_a_record_line_without_id_gets_the_id_of_its_content():
    rec = parse_line(_record())
    assert isinstance(rec, MemoryRecord)
    assert rec.id == MemoryRecord.make_id("math", "algebra", [Constraint(**C[0])], "Solve 2x = 4")
    others = [parse_line(_record(category="code")).id, parse_line(_record(subcategory="geometry")).id,
              parse_line(_record(task="Solve 3x = 9")).id,
              parse_line(_record(constraints=[{**C[0], "avoid": "skipping steps"}])).id]
    assert len({rec.id, *others}) == 5  # each field takes part
    assert parse_line(_record(id="r-given")).id == "r-given"


@pytest.mark.parametrize("line", [{"category": "math"}, {"type": "bogus"}])
def test_an_unknown_type_says_which_types_exist(line):
    with pytest.raises(ValueError) as e:
        parse_line(dict(line))
    assert str(e.value) == f"unknown type {line.get('type')!r}; expected trajectory, pair, record or feedback"


def test_bad_lines_are_reported_by_number_and_the_good_ones_stored(bank):
    lines = [json.dumps(_record()), "", "[1, 2]", "{not json", json.dumps({"type": "bogus"}),
             json.dumps(_record(task="Solve 5x = 10"))]
    report = import_jsonl(bank, lines, progress=lambda _m: None)
    assert report["read"] == 5 and report["stored"]["record"] == 2
    assert report["errors"][0] == "line 3: not a JSON object"
    assert report["errors"][1].startswith("line 4: ")
    assert report["errors"][2] == "line 5: unknown type 'bogus'; expected trajectory, pair, record or feedback"
    assert len(report["errors"]) == 3


def test_export_counts_each_kind_and_writes_text_as_is(bank):
    import_records(bank, [record_line("math", "algebra", "Résous 2x = 4 — vite", ("une équation", "isole x", "deviner")),
                          record_line("math", "algebra", "Solve 2x = 4", ("an equation", "isolate x", "guessing"))])
    out = io.StringIO()
    counts = export_jsonl(bank, out)
    assert counts == {"record": 2}
    text = out.getvalue()
    assert "Résous 2x = 4 — vite" in text and "\\u" not in text
    assert [json.loads(line)["type"] for line in text.splitlines()] == ["record", "record"]
    fresh = Bank(bank.path.parent / "copy")
    assert import_jsonl(fresh, text.splitlines(), progress=lambda _m: None)["stored"]["record"] == 2


def test_minimal_trajectory_lines_are_paired_after_the_import(bank):
    from memcollab.distill.pairing import pair_tasks

    lines = [json.dumps({"type": "trajectory", "task": t, "model": m, "outcome": o, "final_answer": a})
             for t, m, o, a in [("How many legs has a spider?", "m1", "correct", "8"),
                                ("How many legs has a spider?", "m2", "incorrect", "6"),
                                ("How many legs has an ant?", "m1", "correct", "6"),
                                ("How many legs has an ant?", "m2", "incorrect", "4")]]
    report = import_jsonl(bank, lines, progress=lambda _m: None)
    assert len(report["tasks_to_pair"]) == 2 and bank.pairs() == []
    assert pair_tasks(bank, sorted(report["tasks_to_pair"]) * 2) == 2  # repeats count once
    assert {(p.preferred_model, p.unpreferred_model) for p in bank.pairs()} == {("m1", "m2")}
    assert len(bank.pairs()) == 2
