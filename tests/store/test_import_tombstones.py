"""`forget` is not undone by `import`: what the tombstones name is skipped, unless --include-forgotten."""

from __future__ import annotations

import io
import json
import subprocess

import pytest

from conftest import MEMCOLLAB, import_records, record_line, server_env
from memcollab.distill.pairing import pair_task, pair_tasks
from memcollab.store.bank import Bank, eq
from memcollab.store.forget import forget
from memcollab.store.models import TrajectoryIn
from memcollab.store.transfer import export_jsonl, import_jsonl

C = ("a linear equation is solved", "verify by substitution", "skipping the check")


def _seed(bank: Bank) -> None:
    for i in range(2):
        task = f"Tombstone task {i}: solve for x."
        good = TrajectoryIn(task=task, model="good-model", outcome="correct", final_answer="1", agent="a1")
        bad = TrajectoryIn(task=task, model="bad-model", outcome="incorrect", final_answer="2", agent="a2")
        bank.add_trajectories([good.to_trajectory(), bad.to_trajectory()])
        pair_task(bank, good.to_trajectory().task_id)
    import_records(bank, [record_line("Algebra", "Linear Equations", "Solve 2x = 4", C)])


def _export(bank: Bank) -> list[str]:
    out = io.StringIO()
    export_jsonl(bank, out)
    return out.getvalue().splitlines()


def _import(bank: Bank, lines: list[str], **kw) -> dict:
    report = import_jsonl(bank, lines, progress=lambda _m: None, **kw)
    assert report["errors"] == []
    pair_tasks(bank, sorted(report["tasks_to_pair"]))  # what `memcollab import` does next
    return report


def _counts(bank: Bank) -> tuple[int, int, int]:
    return bank.count("trajectories"), bank.count("pairs"), bank.count("records")


def test_a_forgotten_model_stays_forgotten_after_reimporting_an_older_export(tmp_path):
    bank = Bank(tmp_path / "s")
    _seed(bank)
    older = _export(bank)
    forget(bank, model="bad-model")
    assert _counts(bank) == (2, 0, 1)
    report = _import(bank, older)
    assert report["forgotten"] == {"trajectory": 2, "pair": 2, "record": 0, "feedback": 0}
    assert report["stored"] == {"trajectory": 0, "pair": 0, "record": 0, "feedback": 0}
    assert _counts(bank) == (2, 0, 1)
    assert {t.model for t in bank.trajectories()} == {"good-model"}


def test_a_forgotten_trajectory_sent_as_a_minimal_line_is_not_stored_or_paired(tmp_path):
    bank = Bank(tmp_path / "s")
    _seed(bank)
    forget(bank, agent="a2")
    minimal = json.dumps({"type": "trajectory", "task": "Tombstone task 0: solve for x.", "model": "bad-model",
                          "agent": "a2", "final_answer": "2", "outcome": "incorrect"})
    report = _import(bank, [minimal])
    assert report["forgotten"]["trajectory"] == 1
    assert _counts(bank) == (2, 0, 1)


def test_the_forgotten_model_from_another_store_is_skipped_too(tmp_path):
    other = Bank(tmp_path / "other")
    t = TrajectoryIn(task="A task only the other store saw", model="bad-model", outcome="incorrect",
                     final_answer="3").to_trajectory()
    other.add_trajectories([t])
    import_records(other, [record_line("Geometry", "Circles", "area", C)])
    rec = other.records()[0]
    other.update("records", eq("id", rec.id), values={"unpreferred_models": ["bad-model"]})
    bank = Bank(tmp_path / "s")
    _seed(bank)
    forget(bank, model="bad-model")
    report = _import(bank, _export(other))
    assert report["forgotten"] == {"trajectory": 1, "pair": 0, "record": 1, "feedback": 0}
    assert _counts(bank) == (2, 0, 1)


def test_a_forgotten_record_stays_forgotten(tmp_path):
    bank = Bank(tmp_path / "s")
    _seed(bank)
    older = _export(bank)
    rid = bank.records()[0].id
    forget(bank, record_id=rid)
    report = _import(bank, older)
    assert report["forgotten"]["record"] == 1 and bank.count("records") == 0


def test_include_forgotten_brings_it_back_and_lifts_the_tombstones(tmp_path):
    bank = Bank(tmp_path / "s")
    _seed(bank)
    older = _export(bank)
    forget(bank, model="bad-model")
    report = _import(bank, older, include_forgotten=True)
    assert report["forgotten"] == {"trajectory": 0, "pair": 0, "record": 0, "feedback": 0}
    assert report["stored"]["trajectory"] == 2 and report["stored"]["pair"] == 2
    assert _counts(bank) == (4, 2, 1)
    assert bank.count("forgotten", "kind IN ('trajectory', 'pair', 'model')") == 0
    assert _import(bank, older)["forgotten"] == {"trajectory": 0, "pair": 0, "record": 0, "feedback": 0}


def test_cli_import_skips_forgotten_and_says_how_to_include_them(tmp_path):
    store = tmp_path / "s"
    bank = Bank(store)
    _seed(bank)
    dump = tmp_path / "older.jsonl"
    dump.write_text("\n".join(_export(bank)) + "\n")
    forget(bank, model="bad-model")
    run = lambda *a: subprocess.run([MEMCOLLAB, "import", *a], capture_output=True, text=True,  # noqa: E731
                                    env=server_env(store), timeout=120)
    r = run(str(dump))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["forgotten"]["trajectory"] == 2 and "--include-forgotten" in r.stderr
    assert bank.count("trajectories") == 2
    r = run(str(dump), "--include-forgotten")
    assert r.returncode == 0, r.stderr
    assert bank.count("trajectories") == 4 and bank.count("pairs") == 2


def test_import_help_says_what_include_forgotten_does(capsys):
    from memcollab.server.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["import", "--help"])
    assert "--include-forgotten" in capsys.readouterr().out


def test_a_secret_named_in_forget_is_not_stored_in_a_tombstone(tmp_path):
    bank = Bank(tmp_path / "s")
    key = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789-abcd"
    forget(bank, model=key)
    assert key not in json.dumps(bank._select("forgotten"), default=str)


def test_forget_says_what_it_needs_and_records_why(tmp_path):
    bank = Bank(tmp_path / "s")
    _seed(bank)
    with pytest.raises(ValueError, match="^say what to forget: record_id, model or agent$"):
        forget(bank)
    forget(bank, model="bad-model")
    assert {r["reason"] for r in bank._select("forgotten")} == {"model bad-model"}


def test_forget_a_model_and_an_agent_at_once_takes_both_trails(tmp_path):
    bank = Bank(tmp_path / "s")
    _seed(bank)
    dry = forget(bank, model="bad-model", agent="a1", dry_run=True)
    assert (dry.trajectories, dry.pairs) == (4, 2)


def test_forget_takes_records_by_their_pairs_and_by_provenance_on_either_side(tmp_path):
    from memcollab.distill.store_constraints import store_distilled
    from memcollab.distill.validate import DistillOutput

    bank = Bank(tmp_path / "s")
    _seed(bank)  # pairs: good-model/a1 (correct) vs bad-model/a2 (incorrect)
    pair = bank.pairs()[0]
    out = DistillOutput(category="Algebra", subcategory="Linear Equations", constraints=[
        {"when": "an unknown sits on one side", "enforce": "undo each operation in turn", "avoid": "guessing the value"}])
    from_pair = store_distilled(bank, pair, out, "d", "v").record_id
    import_records(bank, [record_line("Geometry", "Circles", "area", C)])
    by_side = {r.category: r.id for r in bank.records()}
    bank.update("records", eq("id", by_side["Geometry"]), values={"preferred_models": ["other-model"]})
    assert set(forget(bank, agent="a2", dry_run=True).record_ids) == {from_pair}  # via the agent's pairs
    bank.update("records", eq("id", by_side["Geometry"]), values={"preferred_models": ["bad-model"]})
    assert set(forget(bank, model="bad-model", dry_run=True).record_ids) == {from_pair, by_side["Geometry"]}
    bank.update("records", eq("id", by_side["Geometry"]),
                values={"preferred_models": ["other-model"], "unpreferred_models": ["bad-model"]})
    assert set(forget(bank, model="bad-model", dry_run=True).record_ids) == {from_pair, by_side["Geometry"]}


def test_a_forgotten_agent_from_another_store_is_skipped(tmp_path):
    other = Bank(tmp_path / "other")
    other.add_trajectories([TrajectoryIn(task="Only the other store saw this", model="fine-model", agent="a2",
                                         outcome="incorrect", final_answer="3").to_trajectory()])
    bank = Bank(tmp_path / "s")
    _seed(bank)
    forget(bank, agent="a2")
    assert _import(bank, _export(other))["forgotten"]["trajectory"] == 1
