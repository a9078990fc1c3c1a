"""Running a command's coroutine so that Ctrl-C stops it at once (build, eval, contrast)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any


def run_interruptibly(coro: Coroutine[Any, Any, Any]) -> Any:
    """asyncio.run, but Ctrl-C raises KeyboardInterrupt at once instead of cancelling the main task: a
    cancellation swallowed deep in a library let an interrupted eval run on to the end (seen under load).
    Every answer is already committed to the cache, so stopping anywhere leaves the run resumable."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        return asyncio.run(coro)
    finally:
        signal.signal(signal.SIGINT, previous)
