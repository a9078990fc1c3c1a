"""The output directories of `memcollab eval` the dashboard was pointed at (`--eval DIR`, repeatable).

Read as files, never by importing the eval package: summary.json (seed, tasks, results table), report.md
(rendered as Markdown with raw HTML off, so nothing in it runs) and accuracy.png. Read on every request, so
an evaluation still being written shows up on reload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULT_COLUMNS = ("condition", "model", "n", "accuracy", "accuracy_turn1", "mean_turns", "tokens_in",
                  "tokens_out", "cost_usd", "failed")


@dataclass
class EvalRun:
    index: int
    path: Path
    exists: bool = False
    seed: Any = None
    tasks: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    report_html: str = ""
    has_chart: bool = False
    problems: list[str] = field(default_factory=list)


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def read_eval(index: int, path: Path) -> EvalRun:
    run = EvalRun(index=index, path=path, exists=path.is_dir())
    if not run.exists:
        run.problems.append("the directory does not exist (yet)")
        return run
    summary = path / "summary.json"
    if summary.is_file():
        try:
            data = json.loads(summary.read_text(encoding="utf-8"))
            run.seed = data.get("seed")
            run.tasks = data.get("tasks") if isinstance(data.get("tasks"), dict) else {}
            run.results = [r for r in data.get("results") or [] if isinstance(r, dict)]
        except (ValueError, AttributeError) as err:
            run.problems.append(f"summary.json is not readable: {str(err)[:200]}")
    else:
        run.problems.append("no summary.json yet")
    report = path / "report.md"
    if report.is_file():
        run.report_html = _markdown(report.read_text(encoding="utf-8", errors="replace"))
    run.has_chart = (path / "accuracy.png").is_file()
    return run


def read_evals(dirs: list[Path]) -> list[EvalRun]:
    return [read_eval(i, p) for i, p in enumerate(dirs)]


def chart_path(dirs: list[Path], index: int) -> Path | None:
    """The accuracy chart of the index-th configured directory; only configured directories are served."""
    if 0 <= index < len(dirs):
        p = dirs[index] / "accuracy.png"
        if p.is_file():
            return p
    return None


def cell(row: dict[str, Any], column: str) -> str:
    v = row.get(column)
    if v is None:
        return ""
    if column in ("accuracy", "accuracy_turn1") and isinstance(v, (int, float)):
        return f"{v:.3f}"
    if column == "cost_usd" and isinstance(v, (int, float)):
        return f"{v:.4f}"
    if column == "mean_turns" and isinstance(v, (int, float)):
        return f"{v:.2f}"
    return str(v)
