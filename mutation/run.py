"""Mutation testing with mutmut 3: one deliberate break at a time, then the tests that reach it.

    python mutation/run.py [store distill server/tools | store/bank.py ...] [--rev REV] [--children N] [--show]

A unit (store, distill, server/tools) expands into its files; each file is measured in its own workspace,
build/mutation/<file>/, with its own fast test selection (SELECTION below).

mutmut derives a module's name from its file path (`src/memcollab/store/bank.py` → `memcollab.store.bank`)
and imports the mutated copy from `mutants/src`, so the source, laid out by setuptools' package-dir mapping
(`memcollab.store` → store/), is first copied (working tree, or `--rev`) into the workspace in the installed
layout: `src/memcollab/{store,distill,server,...}` plus tests/. The installed (editable) memcollab and the
working tree stay untouched: mutmut puts `mutants/src` first on sys.path, ahead of the editable finder.

The selections hold in-process tests only: a test that starts a `memcollab` subprocess runs the installed
code, so it cannot kill a mutant (and mutmut maps tests to functions from in-process calls anyway). mutmut
then runs, per mutant, only the selected tests that called the mutated function.

Prints per file: killed (+ timeout) / total and every survivor; writes build/mutation/<file>/summary.json.
Not part of `make test`: `make mutation` (hours for all three units on a 2-core machine; pick files with
UNITS=...). Inside a workspace, `mutmut results` and `mutmut show NAME` give the details.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import io
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
PACKAGES = ("store", "distill", "server", "eval", "ui")
NOT_SUBPROCESS = ("not cli and not stdio and not tagged_query_answers_while and not killed_distill and not killed_between"
                  " and not compaction_racing")

# What each file's mutants are tested with: the fast in-process tests that exercise it (file-specific where
# given, else its unit's). Tests that start `memcollab` subprocesses are left out (NOT_SUBPROCESS).
SELECTION = {
    "distill/validate.py": ["test_validate_rules.py"],
    "distill/store_constraints.py": ["test_dedup_threshold.py", "test_redact.py", "test_forget_and_filters.py",
                                     "test_validate_rules.py"],
    "distill/prompt.py": ["test_poisoning.py", "test_distill.py"],
    "store/redact.py": ["test_redact.py"],
    "store/transfer.py": ["test_transfer.py", "test_import_tombstones.py"],
    "store/forget.py": ["test_forget_and_filters.py", "test_import_tombstones.py"],
    "store/models.py": ["test_invalid_input.py", "test_redact.py", "test_validate_rules.py", "test_transfer.py"],
    "store/classify.py": ["test_retrieval.py"],
    "store/retrieve.py": ["test_retrieval.py"],
    "store/bank.py": ["test_bank.py", "test_transfer.py", "test_forget_and_filters.py", "test_import_tombstones.py"],
    "store": ["test_redact.py", "test_transfer.py", "test_forget_and_filters.py", "test_import_tombstones.py",
              "test_maintain.py", "test_retrieval.py", "test_taxonomy.py", "test_tools.py", "test_invalid_input.py",
              "test_bank.py"],
    "distill": ["test_validate_rules.py", "test_distill.py", "test_dedup_threshold.py", "test_tools.py",
                "test_import_tombstones.py"],
    "server/tools": ["test_tools.py", "test_invalid_input.py", "test_forget_and_filters.py", "test_distill.py",
                     "test_redact.py", "test_retrieval.py", "test_maintain.py"],
}
UNITS = ("store", "distill", "server/tools")
PRELOAD = ["pytest", "anyio", "hypothesis", "pydantic", "numpy", "pyarrow", "pyarrow.compute", "lancedb",
           "lancedb.index", "mcp", "mcp.server", "litellm", "torch", "sentence_transformers", "filelock", "yaml",
           "conftest", "support.fake_llm"]


def files_of(target: str) -> list[str]:
    """A unit expands into its Python files (not __init__.py); a file stays itself."""
    target = target.rstrip("/")
    if target not in UNITS:
        if not any(target.startswith(u + "/") for u in UNITS) or not (ROOT / target).is_file():
            raise SystemExit(f"unknown target {target!r}; use one of {UNITS} or a .py file under them")
        return [target]
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / target).glob("*.py") if p.name != "__init__.py")


def tests_for(target: str) -> list[str]:
    if target in SELECTION:
        return SELECTION[target]
    return SELECTION[max((u for u in UNITS if target.startswith(u + "/")), key=len)]


def copy_tree(dest: Path, rev: str | None) -> str:
    """The source (working tree, or `rev`) in the installed layout under dest/src/memcollab, tests in dest/tests.
    Returns what was measured: the commit, with '+dirty' when the working tree differs from it."""
    if dest.exists():
        for sub in ("src", "tests"):
            shutil.rmtree(dest / sub, ignore_errors=True)
    pkg = dest / "src" / "memcollab"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    if rev:
        commit = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        blob = subprocess.run(["git", "archive", commit, *PACKAGES, "tests"], cwd=ROOT, capture_output=True,
                              check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(dest / "_archive", filter="data")
        for name in PACKAGES:
            if (dest / "_archive" / name).exists():
                shutil.copytree(dest / "_archive" / name, pkg / name, ignore=ignore)
        shutil.copytree(dest / "_archive" / "tests", dest / "tests", ignore=ignore)
        shutil.rmtree(dest / "_archive")
        return commit
    for name in PACKAGES:
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, pkg / name, ignore=ignore)
    shutil.copytree(ROOT / "tests", dest / "tests", ignore=ignore)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *PACKAGES, "tests"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return head + ("+dirty" if dirty else "")


def write_config(dest: Path, target: str) -> None:
    """mutmut's configuration for this unit. A different configuration (targets, tests) starts from scratch:
    mutmut keeps the test-to-function map of its previous run and would reuse a stale one."""
    tests = [f"tests/{t}" for t in tests_for(target) if (dest / "tests" / t).exists()]
    sources = [f"src/memcollab/{target}"]
    also = ["src/memcollab/__init__.py"] + [f"src/memcollab/{p}" for p in PACKAGES]
    q = lambda xs: "[" + ", ".join(json.dumps(x) for x in xs) + "]"  # noqa: E731
    config = f"""[tool.mutmut]
source_paths = {q(sources)}
do_not_mutate = ["*/__init__.py"]
also_copy = {q(also)}
pytest_add_cli_args_test_selection = {q([*tests, "-k", NOT_SUBPROCESS])}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]
# a forkserver, not fork: mutmut's main process has run the tests, and forking a process whose LanceDB runtime
# is live can deadlock the child (seen here). The server imports the heavy libraries once (no connection yet).
process_isolation = "forkserver"
forkserver_warmup = "import"
preload_modules_file = "preload.txt"
timeout_multiplier = 4.0
timeout_constant = 30.0  # seconds: pytest start-up in each forked child on a busy machine

[tool.pytest.ini_options]
testpaths = ["tests"]
markers = ["slow: long-running tests"]
addopts = "-m 'not slow' -p no:cacheprovider"
"""
    (dest / "preload.txt").write_text("\n".join(PRELOAD) + "\n")
    cfg = dest / "pyproject.toml"
    if not cfg.exists() or cfg.read_text() != config:
        shutil.rmtree(dest / "mutants", ignore_errors=True)
    cfg.write_text(config)


def mutmut(dest: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "MEMCOLLAB_FUZZ_EXAMPLES": "20"}
    exe = str(Path(sys.executable).parent / "mutmut")
    return subprocess.run(["nice", "-n", "10", exe, *args], cwd=dest, env=env, capture_output=True, text=True)


def summarize(dest: Path, target: str, measured: str) -> dict:
    out = mutmut(dest, "results", "--all", "true").stdout
    status: dict[str, str] = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\w.ǁ]+__mutmut_\d+): (.+)$", line)
        if m:
            status[m.group(1)] = m.group(2).strip()
    killed = sum(1 for s in status.values() if s in ("killed", "timeout", "caught by type check"))
    survivors = sorted(k for k, s in status.items() if s not in ("killed", "timeout", "caught by type check"))
    summary = {"target": target, "tests": tests_for(target), "measured_on": measured, "total": len(status), "killed": killed,
               "score": round(killed / len(status), 4) if status else None,
               "survivors": {k: status[k] for k in survivors}}
    (dest / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", default=list(UNITS), help="units or files (default: all three units)")
    ap.add_argument("--rev", help="measure this commit instead of the working tree")
    ap.add_argument("--children", type=int, default=1, help="mutants tested at once (default 1)")
    ap.add_argument("--show", action="store_true", help="print each survivor's diff")
    args = ap.parse_args(argv)
    files = list(dict.fromkeys(f for t in args.targets for f in files_of(t)))
    failed = 0
    totals: dict[str, list[int]] = {}
    for target in files:
        dest = WORK / target.replace("/", "-").removesuffix(".py")
        dest.mkdir(parents=True, exist_ok=True)
        measured = copy_tree(dest, args.rev)
        write_config(dest, target)
        print(f"== {target} on {measured} with {' '.join(tests_for(target))}", flush=True)
        r = mutmut(dest, "run", "--max-children", str(args.children))
        (dest / "run.log").write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            print(f"mutmut run failed for {target} (see {dest / 'run.log'}):\n{(r.stdout + r.stderr)[-2000:]}")
            failed += 1
            continue
        s = summarize(dest, target, measured)
        unit = max((u for u in UNITS if target.startswith(u + "/")), key=len)
        totals.setdefault(unit, [0, 0])
        totals[unit][0] += s["killed"]
        totals[unit][1] += s["total"]
        print(f"{target}: {s['killed']}/{s['total']} killed = {100 * (s['score'] or 0):.1f}%", flush=True)
        for name, st in s["survivors"].items():
            if args.show:
                print(mutmut(dest, "show", name).stdout)
            else:
                print(f"  {st}: {name}")
    for unit, (killed, total) in totals.items():
        print(f"{unit} (files measured in this run): {killed}/{total} killed = {100 * killed / max(total, 1):.1f}%")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
