"""pytest plugin for mutation runs (loaded with `-p mutmut_plugin` in the workspace, see run.py).

mutmut 3 runs, for each mutant, the selected tests that called the mutated function in its stats run, with
`-x`. This plugin makes that run cheap:
- order: the tests that killed an earlier mutant of the same function first (remembered in
  mutmut_killers/<function>), then the tests that killed the most mutants so far, then the fastest (mutmut's
  measured durations); so a killed mutant usually stops at its first test;
- a budget of MUTATION_BUDGET_S seconds of wall time per mutant (0 = none, the default: all its tests): once
  it is spent, no further test starts and the mutant ends "interrupted" (exit 2), which run.py counts as not
  killed, never as killed;
- a watchdog: a mutant that makes a test hang ends as a timeout (exit 36, killed as mutmut counts it) after
  3 x the budget + 60 s, or without a budget twice its tests' measured time + 60 s;
- a line per mutant in mutmut_times.jsonl (exit status, seconds from pytest's start, tests run), so run.py can
  say where a run's time went.
Outside a mutant's run (stats, clean run) it only orders the tests by duration.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

_TIMEOUT_EXIT = 36  # mutmut files this exit code as "timeout"
_KILLERS = Path("mutmut_killers")
_mutant = os.environ.get("MUTANT_UNDER_TEST", "")
_function = _mutant.rsplit("__mutmut_", 1)[0] if "__mutmut_" in _mutant else ""
_started = time.monotonic()
_session = None
_ran = 0  # tests run for this mutant
_TIMES = Path("mutmut_times.jsonl")  # one line per mutant: where a run's time goes (run.py sums it)


def _durations() -> dict[str, float]:
    try:
        return json.loads(Path("mutmut-stats.json").read_text())["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return {}


def _budget() -> float:
    return float(os.environ.get("MUTATION_BUDGET_S", "0") or 0)


def _killers() -> tuple[set[str], Counter[str]]:
    """The tests that killed mutants of this function, and how many mutants each test has killed overall."""
    mine: set[str] = set()
    overall: Counter[str] = Counter()
    for path in _KILLERS.glob("*") if _KILLERS.is_dir() else ():
        try:
            names = path.read_text().splitlines()
        except OSError:
            continue
        overall.update(names)
        if path.name == _function:
            mine.update(names)
    return mine, overall


def pytest_configure(config) -> None:  # noqa: ANN001
    global _mutant, _function, _started, _ran
    _ran = 0
    # the fork server imports this module once; each child reads its own mutant
    _mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    _function = _mutant.rsplit("__mutmut_", 1)[0] if "__mutmut_" in _mutant else ""
    _started = time.monotonic()
    if _function and _budget():
        _watchdog(3 * _budget() + 60)


def _watchdog(seconds: float) -> None:
    timer = threading.Timer(seconds, os._exit, args=(_TIMEOUT_EXIT,))
    timer.daemon = True
    timer.start()


def pytest_sessionstart(session) -> None:  # noqa: ANN001
    global _session
    _session = session


def _own_files(items) -> set[str]:  # noqa: ANN001
    """The module's own test files among a mutant's tests: those that killed a mutant of its module before
    (learned in mutmut_killers), and those named after the module (tests/store/test_embed.py for store/embed.py:
    a new test file has no history yet)."""
    module = _function.rsplit(".", 1)[0]
    files: set[str] = set()
    for path in _KILLERS.glob(module + ".*") if _KILLERS.is_dir() else ():
        with contextlib.suppress(OSError):
            files.update(line.split("::", 1)[0] for line in path.read_text().splitlines())
    stem = module.rsplit(".", 1)[1]
    files.update(f for f in (item.nodeid.split("::", 1)[0] for item in items) if stem in f.rsplit("/", 1)[-1])
    return files


def _select(config, items, durations: dict[str, float]) -> None:  # noqa: ANN001
    """The fast selection (run.py --own / --cap), on a mutant's ordered tests: only those in its module's own test
    files (_own_files; all of them while the module has none), then the first ones
    whose measured seconds add up to at most the cap (the first test always runs). A mutant none of the kept
    tests kills counts as survived: the selection trades a few kills for time."""
    keep = list(items)
    if os.environ.get("MUTATION_OWN") == "1":
        files = _own_files(items)
        if files:
            keep = [item for item in keep if item.nodeid.split("::", 1)[0] in files] or keep[:1]
    cap = float(os.environ.get("MUTATION_CAP_S", "0") or 0)
    if cap:
        total, cut = 0.0, len(keep)
        for i, item in enumerate(keep):
            total += durations.get(item.nodeid, 1.0)
            if total > cap and i:
                cut = i
                break
        keep = keep[:cut]
    if len(keep) < len(items):
        kept = set(id(item) for item in keep)
        config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept])
        items[:] = keep


def pytest_collection_modifyitems(session, config, items) -> None:  # noqa: ANN001
    durations = _durations()
    mine, overall = _killers() if _function else (set(), Counter())
    items.sort(key=lambda item: (item.nodeid not in mine, -overall[item.nodeid], durations.get(item.nodeid, 0.0)))
    if _function:
        _select(config, items, durations)
    if _function and not _budget():  # all its tests: a hang ends at twice their measured time + 60 s
        _watchdog(2 * sum(durations.get(item.nodeid, 1.0) for item in items) + 60)


def pytest_runtest_logreport(report) -> None:  # noqa: ANN001
    global _ran
    if not _function:
        return
    if report.when == "call":
        _ran += 1
    if report.failed:
        _KILLERS.mkdir(exist_ok=True)
        with open(_KILLERS / _function, "a") as f:  # one short append: safe with parallel children
            f.write(report.nodeid + "\n")
    elif report.when == "teardown" and _budget() and time.monotonic() - _started > _budget() and _session:
        _session.shouldstop = "mutation budget spent"


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ANN001
    if not _function:
        return
    line = json.dumps({"mutant": _mutant, "exit": int(exitstatus), "seconds": round(time.monotonic() - _started, 3),
                       "tests": _ran, "budget": _budget(), "at": round(time.time(), 1)})
    with open(_TIMES, "a") as f:  # one short append: safe with parallel children
        f.write(line + "\n")
