"""Progress of long commands (store/progress.py): plain lines off a terminal, a rich bar on one, totals set later.

Progress of long commands: an import says how far it got about once a second (a clock stood in for the
transfer module only, so the test does not wait), and a count without a total is just the count (real LanceDB
in a temp dir)."""

from __future__ import annotations

import io
import re
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


def test_progress_total_can_be_set_later():
    out = io.StringIO()
    with progress("import", stream=out) as bar:
        bar.advance(2)
        bar.set_total(5)
        assert bar.total == 5
    assert out.getvalue().startswith("import: 2/5 done in ")


def test_progress_total_set_later_reaches_the_terminal_bar():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    with progress("import", stream=Terminal()) as bar:
        bar.set_total(7)
        assert bar.total == 7 and bar._rich.tasks[0].total == 7


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_off_a_terminal_is_plain_lines(monkeypatch):
    import memcollab.store.progress as mod

    monkeypatch.setattr(mod, "LINE_EVERY", 0.0)
    out = io.StringIO()
    with progress("import", total=3, stream=out) as bar:
        for _ in range(3):
            bar.advance(note="ok")
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text  # no bar drawing, no escape codes in logs
    lines = text.splitlines()
    assert lines[:3] == ["import: 1/3; ok", "import: 2/3; ok", "import: 3/3; ok"]
    assert re.fullmatch(r"import: 3/3 done in \d+\.\ds; ok", lines[-1])


def test_progress_off_a_terminal_is_quiet_by_default():
    out = io.StringIO()
    with progress("distill", total=1000, stream=out) as bar:
        for _ in range(1000):
            bar.advance()
    assert len(out.getvalue().splitlines()) == 1  # fast work: just the final line


def test_progress_on_a_terminal_is_a_rich_bar():
    out = Terminal()
    with progress("maintain", total=4, stream=out) as bar:
        for _ in range(4):
            bar.advance(note="records")
    text = out.getvalue()
    assert "\x1b[" in text and "maintain" in text and "4/4" in text and "━" in text
