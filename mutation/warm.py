"""Imported once by mutmut's fork server (the last line of preload.txt, see run.py), before it forks one
child per mutant: everything a child would otherwise import again for every mutant is loaded here.

- the heavy libraries (preload.txt's earlier lines);
- conftest, the selected test modules and, through them, the (mutated) memcollab modules: a
  `pytest --collect-only` of the selection, as mutmut's own "collect" warm-up does (that warm-up and a
  preload list cannot be combined);
- the modules the code imports lazily on first use (litellm's ~450 openai modules on its first completion,
  transformers' model classes on the first model load: ~1 s in every child that reached them): learned by
  running a few tests that together reach every mutated function in a throwaway child, then imported here;
- then `gc.freeze()`: the collector no longer walks the ~10^6 objects of torch, LanceDB and pytest in every
  child (pytest's end-of-session `gc.collect()` alone took ~1.7 s per mutant here).

No store is opened, no model loaded and no test run in this process: forking a process whose LanceDB or
torch runtime is live can deadlock the child.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import json
import os
import select
import signal
import sys
import time

import pytest
from mutmut.configuration import config

LEARN_DEADLINE_S = 180.0
LEARNED = "mutmut_lazy_modules.json"


def _pytest(args: list[str]) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pytest.main(["--rootdir=.", "-qqq", *args, *config().pytest_add_cli_args])


def _covering_tests() -> list[str]:
    """A few tests that together call every mutated function any test calls, cheap ones first (greedy set
    cover over mutmut's stats: ~40 tests, ~25 s here; none before mutmut's first stats run)."""
    try:
        stats = json.loads(open("mutmut-stats.json").read())
        by_function, durations = stats["tests_by_mangled_function_name"], stats["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return []
    functions_of: dict[str, set[str]] = {}
    for function, tests in by_function.items():
        for test in tests:
            functions_of.setdefault(test, set()).add(function)
    left, chosen = set(by_function), []
    while left and functions_of:
        best = max(functions_of, key=lambda t: len(functions_of[t] & left) / (durations.get(t, 1.0) + 0.2))
        if not functions_of[best] & left:
            break
        chosen.append(best)
        left -= functions_of.pop(best)
    return chosen


def _learned_modules() -> list[str]:
    """_lazy_modules of the covering tests, kept in LEARNED until mutmut's stats change (new tests or code)."""
    try:
        stamp = os.stat("mutmut-stats.json").st_mtime_ns
    except OSError:
        return []
    with contextlib.suppress(OSError, ValueError, KeyError):
        kept = json.loads(open(LEARNED).read())
        if kept["stats_mtime_ns"] == stamp:
            return kept["modules"]
    modules = _lazy_modules(_covering_tests())
    with open(LEARNED, "w") as out:
        json.dump({"stats_mtime_ns": stamp, "modules": modules}, out)
    return modules


def _lazy_modules(tests: list[str]) -> list[str]:
    """The modules that running `tests` imports, from a throwaway child (its tests' results do not matter)."""
    before = set(sys.modules)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.environ["MUTANT_UNDER_TEST"] = ""  # the original code everywhere
            os.environ["MUTATION_BUDGET_S"] = "0"
            _pytest(["-p", "no:randomly", *tests])
            with os.fdopen(write, "w") as out:
                out.write("\n".join(sorted(set(sys.modules) - before)))
        finally:
            os._exit(0)
    os.close(write)
    data, deadline = b"", time.monotonic() + LEARN_DEADLINE_S
    while (left := deadline - time.monotonic()) > 0 and select.select([read], [], [], left)[0]:
        chunk = os.read(read, 1 << 16)
        if not chunk:
            break
        data += chunk
    else:
        os.kill(pid, signal.SIGKILL)  # too slow: learn nothing rather than hold up the run
        data = b""
    os.close(read)
    os.waitpid(pid, 0)
    return data.decode().split()


_here = os.getcwd()
try:
    os.chdir("mutants")
    _pytest(["--collect-only", *config().pytest_add_cli_args_test_selection])
    for name in _learned_modules():
        # test modules are imported by collection, under their own names (tests.<room>.test_*: importlib mode)
        if name.startswith(("test_", "conftest", "tests.")) or name in sys.modules:
            continue
        with contextlib.suppress(Exception):
            importlib.import_module(name)
finally:
    os.chdir(_here)
gc.collect()
gc.freeze()
