"""Run every benchmark in turn (`make bench`). Each prints its own figures; see each script's docstring."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_server.py", "bench_retrieval.py", "bench_distill.py", "bench_maintain.py", "bench_http.py"]

if __name__ == "__main__":
    failed = 0
    for name in SCRIPTS:
        print(f"\n### {name}", flush=True)
        failed += subprocess.run([sys.executable, str(HERE / name)]).returncode != 0
    sys.exit(1 if failed else 0)
