"""Where a benchmark keeps its stores: a temp directory removed when the benchmark exits (a run of
bench_maintain leaves ~2 GB, bench_server ~1 GB). MEMCOLLAB_BENCH_KEEP=1 keeps it, and says where it is."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path


def scratch_dir(prefix: str = "memcollab-bench-") -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.environ.get("MEMCOLLAB_BENCH_KEEP"):
        print(f"keeping the benchmark's stores in {path}", file=sys.stderr)
    else:
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
