"""Imported once by mutmut's fork server (the last line of preload.txt, see run.py), before it forks one
child per mutant: everything a child would otherwise import again for every mutant is loaded here.

- the heavy libraries (preload.txt's earlier lines);
- conftest, the selected test modules and, through them, the (mutated) memcollab modules: a
  `pytest --collect-only` of the selection, as mutmut's own "collect" warm-up does (that warm-up and a
  preload list cannot be combined);
- then `gc.freeze()`: the collector no longer walks the ~10^6 objects of torch, LanceDB and pytest in every
  child (pytest's end-of-session `gc.collect()` alone took ~1.7 s per mutant here).

No store is opened and no model loaded here: forking a process whose LanceDB or torch runtime is live can
deadlock the child.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os

import pytest
from mutmut.configuration import config

_here = os.getcwd()
try:
    os.chdir("mutants")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pytest.main(["--rootdir=.", "--collect-only", "-qqq", *config().pytest_add_cli_args_test_selection,
                     *config().pytest_add_cli_args])
finally:
    os.chdir(_here)
gc.collect()
gc.freeze()
