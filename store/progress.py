"""Progress for long commands (import, distill, maintain, build, eval), always on stderr, never stdout.

On a terminal: a rich progress bar. Otherwise (a pipe, a log file, CI): plain lines, one every
`LINE_EVERY` seconds at most plus one at the end, so logs stay short and greppable.

    from memcollab.store.progress import progress

    with progress("distill", total=len(pairs)) as bar:
        for p in pairs:
            ...
            bar.advance(note=f"failed {failed}")

`total=None` when the amount of work is unknown (a count instead of a bar). `stream` defaults to sys.stderr.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

LINE_EVERY = 5.0  # seconds between plain lines when stderr is not a terminal


class Bar:
    """What `progress()` yields; thread-safe (distill advances it from concurrent tasks)."""

    def __init__(self, label: str, total: int | None, stream: TextIO, rich_progress: Any = None):
        self.label, self.total, self.stream = label, total, stream
        self.done = 0
        self.note = ""
        self._rich = rich_progress
        self._task = rich_progress.add_task(label, total=total, note="") if rich_progress is not None else None
        self._lock = threading.Lock()
        self._started = self._last = time.monotonic()

    def advance(self, n: int = 1, note: str = "") -> None:
        with self._lock:
            self.done += n
            self.note = note or self.note
            if self._rich is not None:
                self._rich.update(self._task, advance=n, note=self.note)
                return
            now = time.monotonic()
            if now - self._last >= LINE_EVERY:
                self._last = now
                self._line()

    def set_total(self, total: int | None) -> None:
        with self._lock:
            self.total = total
            if self._rich is not None:
                self._rich.update(self._task, total=total)

    def _line(self, end: bool = False) -> None:
        count = f"{self.done}/{self.total}" if self.total is not None else str(self.done)
        took = f" in {time.monotonic() - self._started:.1f}s" if end else ""
        note = f"; {self.note}" if self.note else ""
        self.stream.write(f"{self.label}: {count}{' done' if end else ''}{took}{note}\n")
        self.stream.flush()

    def finish(self) -> None:
        with self._lock:
            if self._rich is None:
                self._line(end=True)


def is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress(label: str, total: int | None = None, stream: TextIO | None = None) -> Iterator[Bar]:
    stream = stream or sys.stderr
    if not is_terminal(stream):
        bar = Bar(label, total, stream)
        yield bar
        bar.finish()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(file=stream, force_terminal=True)
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[note]}")]
    with Progress(*columns, console=console, transient=False) as rich_progress:
        yield Bar(label, total, stream, rich_progress)

