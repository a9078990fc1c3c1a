"""Progress of long commands: an import says how far it got about once a second (a clock stood in for the
transfer module only, so the test does not wait), and a count without a total is just the count (real LanceDB
in a temp dir)."""

from __future__ import annotations

import io
import types

from conftest import traj
from memcollab.store import transfer as transfer_module
from memcollab.store.progress import progress
from memcollab.store.transfer import import_jsonl


def test_an_import_reports_lines_and_rate_about_once_a_second(bank, monkeypatch):
    # the clock's readings in order: the start, then one check per line and one reading per progress line
    readings = iter([0.0, 0.5, 1.2, 1.25, 1.3, 2.5, 2.5])
    monkeypatch.setattr(transfer_module, "time", types.SimpleNamespace(monotonic=lambda: next(readings)))
    lines = [json_line(i) for i in range(4)]
    said: list[str] = []
    report = import_jsonl(bank, lines, progress=said.append)
    assert report["errors"] == [] and report["stored"]["trajectory"] == 4
    assert said == ["imported 2 lines (2/s)", "imported 4 lines (2/s)"]


def json_line(i: int) -> str:
    import json

    return json.dumps({"type": "trajectory", **traj(f"Progress task {i}: solve for x.", "m", "correct")})


def test_a_count_without_a_total_shows_the_count_alone():
    out = io.StringIO()
    with progress("import", total=None, stream=out) as bar:
        bar.advance(3)
    assert out.getvalue().startswith("import: 3 done in ")
