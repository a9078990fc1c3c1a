"""Export and import (store/transfer.py).

export → import is lossless; minimal lines are accepted; bad lines are reported and skipped; the CLI.

Export/import line by line (store/transfer.py) against real LanceDB in temp dirs: the ids a line gets, the
errors a bad line gets, what export counts and how it writes non-ASCII text."""

from __future__ import annotations

import io
import json
import re
import subprocess

import pytest

from conftest import MEMCOLLAB, call, import_records, memory_client, record_line, server_env, traj
from memcollab.store.bank import Bank
from memcollab.store.models import Constraint, MemoryRecord
from memcollab.store.transfer import export_jsonl, import_jsonl, parse_line


def _dump(bank: Bank) -> list[str]:
    out = io.StringIO()
    export_jsonl(bank, out)
    return sorted(out.getvalue().splitlines())


def _objects(bank: Bank) -> dict[str, dict[str, dict]]:
    """Every stored object, read back through the bank (not through export), by kind and id."""
    from memcollab.store.models import Feedback

    feedback = [Feedback(**{k: v for k, v in row.items() if not k.startswith("_")}) for row in bank._select("feedback")]
    return {kind: {o.id: o.model_dump() for o in objs} for kind, objs in (
        ("trajectory", bank.trajectories()), ("pair", bank.pairs()), ("record", bank.records()),
        ("feedback", feedback))}


@pytest.mark.anyio
async def test_export_import_round_trip_is_lossless(tmp_path):
    src, dst = tmp_path / "a", tmp_path / "b"
    async with memory_client(src) as c:
        for i in range(5):
            await call(c, "submit_trajectory", traj(f"task {i}", "gpt-4o", "correct", metadata={"i": i, "tags": ["x"]},
                                                    category="Algebra", subcategory="Linear Equations"))
            await call(c, "submit_trajectory", traj(f"task {i}", "llama-3-8b", "incorrect", "0", agent="bot"))
    bank = Bank(src)
    import_records(bank, [record_line("Algebra", "Linear Equations", "Solve 2x = 4",
                                      ("a variable has a coefficient", "divide both sides", "subtracting"))])
    bank.set_pair(bank.pairs()[0].id, status="failed", attempts=2, last_error="HTTP 500")
    rid = bank.records()[0].id
    async with memory_client(src) as c:
        await call(c, "report_feedback", {"record_ids": [rid], "helped": True, "model": "qwen2.5-7b"})
        await call(c, "report_feedback", {"record_ids": [rid], "helped": False, "model": "gpt-4o"})
    original = _objects(bank)
    assert {k: len(v) for k, v in original.items()} == {"trajectory": 10, "pair": 5, "record": 1, "feedback": 2}
    assert sorted(t["metadata"].get("i", -1) for t in original["trajectory"].values()) == [-1] * 5 + [0, 1, 2, 3, 4]

    report = import_jsonl(Bank(dst), _dump(bank), progress=lambda _m: None)
    assert report["errors"] == []
    assert report["stored"] == {"trajectory": 10, "pair": 5, "record": 1, "feedback": 2}
    imported = _objects(Bank(dst))
    for kind, objs in original.items():  # field by field, created_at, metadata and feedback included
        assert imported[kind].keys() == objs.keys(), kind
        for oid, fields in objs.items():
            for name, value in fields.items():
                assert imported[kind][oid][name] == value, f"{kind} {oid}: {name} differs after the round trip"
    # importing again stores nothing new
    again = import_jsonl(Bank(dst), _dump(bank), progress=lambda _m: None)
    assert again["stored"] == {"trajectory": 0, "pair": 0, "record": 0, "feedback": 0}


def test_minimal_lines_and_bad_lines(tmp_path):
    bank = Bank(tmp_path / "s")
    lines = [
        record_line("Geometry", "Circles", "area of a circle", ("a circle", "square the radius", "the diameter")),
        json.dumps({"type": "trajectory", "task": "Q", "model": "a", "final_answer": "1", "outcome": "correct"}),
        json.dumps({"type": "trajectory", "task": "Q", "model": "b", "final_answer": "2", "outcome": "incorrect"}),
        "not json",
        json.dumps([1, 2]),
        json.dumps({"type": "alien"}),
        json.dumps({"type": "record", "category": "X", "constraints": []}),
        "",
    ]
    report = import_jsonl(bank, lines, progress=lambda _m: None)
    assert report["stored"]["record"] == 1 and report["stored"]["trajectory"] == 2
    assert [e.split(":")[0] for e in report["errors"]] == ["line 4", "line 5", "line 6", "line 7"]
    assert len(report["tasks_to_pair"]) == 1
    (rec,) = bank.records()
    assert rec.constraints[0].enforce == "square the radius" and rec.support == 1


def test_cli_export_import_status(tmp_path):
    src, dst, f = tmp_path / "a", tmp_path / "b", tmp_path / "dump.jsonl"
    f.write_text("\n".join([
        json.dumps({"type": "trajectory", "task": "Q", "model": "a", "final_answer": "1", "outcome": "correct"}),
        json.dumps({"type": "trajectory", "task": "Q", "model": "b", "final_answer": "2", "outcome": "incorrect"}),
        record_line("Geometry", "Circles", "area", ("a circle", "square the radius", "the diameter")),
    ]) + "\n")
    run = lambda *a, store=src: subprocess.run([MEMCOLLAB, *a], capture_output=True, text=True,  # noqa: E731
                                               env=server_env(store), timeout=120)
    r = run("import", str(f))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["stored"]["trajectory"] == 2
    st = json.loads(run("status", "--json").stdout)
    assert st["pairs_by_status"] == {"pending": 1} and st["records"] == 1  # imported trajectories were paired
    out = tmp_path / "out.jsonl"
    assert run("export", str(out)).returncode == 0
    assert run("import", str(out), store=dst).returncode == 0
    assert _dump(Bank(src)) == _dump(Bank(dst))
    text = run("status").stdout
    assert re.search(r"trajectories\W+2\W", text) and re.search(r"Geometry\W+1\W", text)  # status tables
    bad = tmp_path / "bad.jsonl"
    bad.write_text("garbage\n")
    r = run("import", str(bad))
    assert r.returncode == 1 and "line 1" in r.stderr


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
