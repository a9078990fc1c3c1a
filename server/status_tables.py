"""`memcollab status` for people: the memory_status counts as rich tables (`--json` gives the raw model)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from memcollab.store.status import Status


def _table(title: str, header: tuple[str, ...], rows: list[tuple[object, ...]], empty: str = "none yet"):
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, title_justify="left", header_style="bold", min_width=len(title) + 2)
    for i, h in enumerate(header):
        t.add_column(h, justify="right" if i else "left")
    for row in rows:
        t.add_row(*(Text(str(x)) for x in row))  # Text: names from clients are never read as markup
    if not rows:
        t.add_row(empty, *([""] * (len(header) - 1)))
    return t


def render(st: Status, console: Console) -> None:
    from rich.text import Text

    console.print(Text.assemble(("store ", "bold"), f"{st.store}  (schema v{st.schema_version}, embedding model: "
                                f"{st.embedding_model or 'unknown'})"))
    console.print(_table("Bank", ("what", "count"), [
        ("trajectories", st.trajectories), ("tasks", st.tasks),
        ("contrast pairs", sum(st.pairs_by_status.values())), ("memory records", st.records),
        ("models", len(st.models))]))
    console.print(_table("Trajectories by outcome", ("outcome", "trajectories"),
                         sorted(st.trajectories_by_outcome.items())))
    console.print(_table("Trajectories by how their task was found", ("found by", "trajectories"),
                         sorted(st.trajectories_by_task_match.items())
                         + ([("task texts joined to another task", st.tasks_joined)] if st.tasks_joined else [])))
    console.print(_table("Contrast pairs by status", ("status", "pairs"), sorted(st.pairs_by_status.items())))
    console.print(_table("Records by category", ("category", "records"), list(st.records_by_category.items())))
    console.print(_table("Models (trajectories submitted)", ("model", "trajectories"), list(st.models.items())))
    proposed = sum(st.constraints_by_verdict.values())
    console.print(_table("Distilled constraints", ("verdict", "constraints"),
                         [(v, n) for v, n in sorted(st.constraints_by_verdict.items())]
                         + ([("rejection rate", f"{st.rejection_rate:.1%}")] if proposed else [])))
    if st.rejection_reasons:
        console.print(_table("Why the validator rejected constraints", ("reason", "constraints"),
                             sorted(st.rejection_reasons.items(), key=lambda kv: -kv[1])))
    console.print(_table("Feedback by consuming model", ("model", "helped", "not helped"),
                         [(m, c.get("helped", 0), c.get("not_helped", 0))
                          for m, c in sorted(st.feedback_by_model.items())]))
