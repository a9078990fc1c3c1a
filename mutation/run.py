"""Mutation testing with mutmut 3: one deliberate break at a time, then the tests that reach it.

    python mutation/run.py [store distill server/tools | store/bank.py ...] [--rev REV] [--children N]
                           [--survivors] [--fresh] [--show] [--sample N --seed S] [--own] [--cap S] [--mutants FILE]

One workspace, build/mutation/all/, holds the mutants of store/, distill/ and server/tools/ together, so the
selected tests run once for mutmut's stats (which test calls which function) and once clean, not once per file.
With no target (or all three units) the run resumes: mutants that have a result keep it (mutmut re-tests the
functions whose code changed). A file or a single unit as target (re)tests exactly its mutants; `--survivors`
re-tests only those that survived last time (after adding tests); `--fresh` starts the workspace from scratch.

mutmut derives a module's name from its file path (`src/memcollab/store/bank.py` → `memcollab.store.bank`)
and imports the mutated copy from `mutants/src`, so the source, laid out by setuptools' package-dir mapping
(`memcollab.store` → store/), is first copied (working tree, or `--rev`) into the workspace in the installed
layout: `src/memcollab/{store,distill,server,...}` plus tests/. The installed (editable) memcollab and the
working tree stay untouched: mutmut puts `mutants/src` first on sys.path, ahead of the editable finder.

Speed (a mutant costs a forked pytest run; measured in issue 12, 2 cores):
- mutmut maps tests to functions and runs, per mutant, only the selected tests that called the mutated
  function; the selection holds in-process tests only (a test that starts a `memcollab` subprocess runs the installed
  code, so it cannot kill a mutant; NOT_SUBPROCESS drops those by name);
- mutation/warm.py (imported once by mutmut's fork server) loads the heavy libraries, conftest, the test
  modules and the mutated memcollab modules, then freezes the garbage collector, so a child starts in well
  under a second (was ~3 s: imports, and pytest's end-of-session gc.collect() over torch's objects);
- mutation/pytest_plugin.py runs a mutant's tests in the order most likely to kill it first (the tests that
  killed other mutants of its function, then those that killed most, then the fastest), stops at the first
  failure (-x) and ends a mutant that hangs; with `--budget S` a mutant gets S seconds at first and the
  mutants whose budget ran out get all their tests in a second pass (`--second-budget S2`: S2 seconds;
  still alive then: not killed);
- the children use one torch thread (OMP_NUM_THREADS=1), keep their temp dirs in /dev/shm and share one S3
  stand-in (moto) started here;
- fuzz tests draw MEMCOLLAB_FUZZ_EXAMPLES=20 examples;
- `--own` / `--cap S`: a fast test selection per mutant (its module's own test files; its first tests up to S
  seconds of their measured time), see mutation/pytest_plugin.py `_select` and issue 12's note for what it costs
  in kills and saves in time. `--mutants FILE` re-tests exactly the mutants named there (to compare selections).

A mutant whose child ended with exit 255 (mutmut's runner raised, e.g. pytest's usage error) is counted "runner
error", not killed as mutmut counts it (seen once in issue 12: every mutant of a run ended so within minutes).

Prints per file killed (+ timeout) / total, per unit the aggregate, and every survivor; writes
build/mutation/all/summary.json. Not part of `make test`: `make mutation` (UNITS=... for some units or
files). Inside build/mutation/all, `mutmut results` and `mutmut show NAME` give the details.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation" / "all"
PACKAGES = ("store", "distill", "server", "eval", "ui")
UNITS = ("store", "distill", "server/tools")
# wall seconds of tests per mutant in a first pass (--budget): 0, the default, runs all of a mutant's tests in one
# pass (a survivor needs all of them anyway; a budget only put off the cost to a second mutmut run, ~3 min more)
BUDGET_S = 0.0
SECOND_BUDGET_S = 0.0  # for the mutants that ran out of it, in a second pass: 0 = all their tests (mutmut's wall
# limit, 4 x (their measured seconds + 30), still ends a hang)
# the tests' temp dirs, when /dev/shm exists; one per run.py process: removing a shared one at the end of any
# run.py (even `--help`) pulled it from under a running mutation run, and every later mutant failed (issue 12)
TMP = Path(f"/dev/shm/memcollab-mutation-{os.getpid()}")

# The tests: every test file under tests/ except these (paths under tests/), which start `memcollab` subprocesses
# (they run the installed code, so they cannot kill a mutant: all of tests/e2e/), test the eval/ui rooms, or need
# bench/. A new test file is picked up by itself (mutmut measures the new tests and keeps every other result).
# Single tests that start subprocesses are dropped by name (NOT_SUBPROCESS).
NOT_TESTS = ["e2e", "eval", "ui/test_ui_browser.py", "server/test_cli_errors.py", "distill/test_distill_crash.py"]
NOT_SUBPROCESS = ("not cli and not stdio and not tagged_query_answers_while and not another_process_sees"
                  " and not import_then_start and not two_servers and not compaction_racing")
PRELOAD = ["pytest", "anyio", "hypothesis", "pydantic", "numpy", "pyarrow", "pyarrow.compute", "lancedb",
           "lancedb.index", "mcp", "mcp.server", "litellm", "torch", "sentence_transformers", "filelock", "yaml",
           "mutmut_warm"]


def files_of(target: str) -> list[str]:
    """A unit expands into its Python files (not __init__.py); a file stays itself."""
    target = target.rstrip("/")
    if target not in UNITS:
        if not any(target.startswith(u + "/") for u in UNITS) or not (ROOT / target).is_file():
            raise SystemExit(f"unknown target {target!r}; use one of {UNITS} or a .py file under them")
        return [target]
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / target).glob("*.py") if p.name != "__init__.py")


def module_of(file: str) -> str:
    return "memcollab." + file.removesuffix(".py").replace("/", ".")


def unit_of(file: str) -> str:
    return max((u for u in UNITS if file.startswith(u + "/")), key=len)


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


def write_config(dest: Path) -> None:
    """mutmut's configuration, the same for every run (a different one starts the workspace from scratch:
    mutmut would otherwise reuse a stale test-to-function map), and the two helper modules."""
    tests = ["tests", *(f"--ignore=tests/{t}" for t in NOT_TESTS)]
    sources = [f"src/memcollab/{u}" for u in UNITS]
    also = ["src/memcollab/__init__.py", "mutmut_plugin.py", "mutmut_warm.py"] + [f"src/memcollab/{p}" for p in PACKAGES]
    q = lambda xs: "[" + ", ".join(json.dumps(x) for x in xs) + "]"  # noqa: E731
    config = f"""[tool.mutmut]
source_paths = {q(sources)}
do_not_mutate = ["*/__init__.py"]
also_copy = {q(also)}
pytest_add_cli_args_test_selection = {q([*tests, "-k", NOT_SUBPROCESS])}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:unraisableexception", "-p", "mutmut_plugin", "-q", "-x"]
# a forkserver, not fork: mutmut's main process has run the tests, and forking a process whose LanceDB runtime
# is live can deadlock the child (seen here). The server imports the heavy libraries and the test modules once
# (preload.txt ends with mutmut_warm), no store open and no model loaded.
process_isolation = "forkserver"
forkserver_warmup = "import"
preload_modules_file = "preload.txt"
timeout_multiplier = 4.0
timeout_constant = 30.0  # seconds; mutmut_plugin's watchdog ends a hanging mutant sooner

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["tests"]
markers = ["slow: long-running tests"]
addopts = "-m 'not slow' -p no:cacheprovider --import-mode=importlib"
"""
    here = Path(__file__).resolve().parent
    shutil.copy2(here / "pytest_plugin.py", dest / "mutmut_plugin.py")
    shutil.copy2(here / "warm.py", dest / "mutmut_warm.py")
    (dest / "preload.txt").write_text("\n".join(PRELOAD) + "\n")
    cfg = dest / "pyproject.toml"
    if not cfg.exists() or cfg.read_text() != config:
        shutil.rmtree(dest / "mutants", ignore_errors=True)
    cfg.write_text(config)


def mutmut(dest: Path, *args: str, budget: float = 0, own: bool = False, cap: float = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "MEMCOLLAB_FUZZ_EXAMPLES": "20",
           "MUTATION_BUDGET_S": str(budget), "MUTATION_OWN": "1" if own else "", "MUTATION_CAP_S": str(cap),
           # one torch thread per child: on 2 busy cores a 2-thread encode of one sentence took 0.48 s, 0.02 s
           # with one
           "OMP_NUM_THREADS": "1"}
    if TMP.parent.is_dir():
        # the tests' stores in memory: LanceDB's writes and pytest's removal of old temp dirs (~2 s per child on
        # disk) cost little there
        TMP.mkdir(exist_ok=True)
        env["TMPDIR"] = str(TMP)
    exe = str(Path(sys.executable).parent / "mutmut")
    return subprocess.run(["nice", "-n", "10", exe, *args], cwd=dest, env=env, capture_output=True, text=True)


def results(dest: Path) -> dict[str, str]:
    """Every mutant's status, by name. Exit 255 is mutmut's own runner failing in the child (an exception, e.g.
    pytest's usage error): mutmut files it as "timeout", i.e. killed; here it is "runner error", not killed."""
    out = mutmut(dest, "results", "--all", "true").stdout
    status: dict[str, str] = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\w.ǁ]+__mutmut_\d+): (.+)$", line)
        if m:
            status[m.group(1)] = m.group(2).strip()
    for name, code in all_mutants(dest).items():
        if code == RUNNER_ERROR and name in status:
            status[name] = "runner error"
    return status


KILLED = ("killed", "timeout", "caught by type check")
RUNNER_ERROR = 255  # seen in issue 12: every mutant of a run ended so within minutes, and mutmut scored 100 %
OUT_OF_BUDGET = "check was interrupted by user"  # how mutmut names pytest's exit 2: mutmut_plugin stopped it


def summarize(status: dict[str, str], files: list[str], measured: str, budget: float) -> dict:
    """killed (+ timeout) / total per file and per unit; every mutant not killed is listed."""
    per_file = {}
    for f in files:
        mine = {k: v for k, v in status.items() if k.startswith(module_of(f) + ".")}
        killed = sum(1 for v in mine.values() if v in KILLED)
        per_file[f] = {"killed": killed, "total": len(mine),
                       "not_killed": {k: v for k, v in sorted(mine.items()) if v not in KILLED}}
    per_unit: dict[str, dict[str, int]] = {}
    for f, r in per_file.items():
        u = per_unit.setdefault(unit_of(f), {"killed": 0, "total": 0})
        u["killed"] += r["killed"]
        u["total"] += r["total"]
    return {"measured_on": measured, "budget_s": budget,
            "units": per_unit, "files": per_file}


def all_mutants(dest: Path) -> dict[str, int | None]:
    """Every generated mutant and its exit code (None: not tested yet), from mutmut's per-file .meta files."""
    out: dict[str, int | None] = {}
    for meta in sorted((dest / "mutants" / "src").rglob("*.py.meta")):
        out.update(json.loads(meta.read_text())["exit_code_by_key"])
    return out


def sample(dest: Path, files: list[str], n: int, seed: int) -> list[str]:
    """n mutants drawn uniformly at random from each unit of the targets (n per unit), for a score with a known
    error when a full run does not fit; those already killed are not tested again (more tests cannot revive
    them). The draw is written to sample.json, so the score is computed over exactly these mutants."""
    import random

    # brings the mutants (and mutmut's test map) up to date with the copied source and tests, then stops:
    # there is no such mutant
    mutmut(dest, "run", "no-such-mutant")
    codes = all_mutants(dest)
    drawn: list[str] = []
    for unit in dict.fromkeys(unit_of(f) for f in files):
        mods = [module_of(f) + "." for f in files if unit_of(f) == unit]
        pool = sorted(k for k in codes if any(k.startswith(m) for m in mods))
        drawn += random.Random(seed).sample(pool, min(n, len(pool)))
    (dest / "sample.json").write_text(json.dumps(sorted(drawn), indent=1))
    return [k for k in drawn if codes[k] not in (1, 3, 36, -24, 24, 152)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", default=list(UNITS), help="units or files (default: all three units)")
    ap.add_argument("--rev", help="measure this commit instead of the working tree")
    ap.add_argument("--children", type=int, default=2, help="mutants tested at once (default 2)")
    ap.add_argument("--survivors", action="store_true", help="re-test only the targets' mutants not killed last time")
    ap.add_argument("--fresh", action="store_true", help="start the workspace from scratch")
    ap.add_argument("--show", action="store_true", help="print each survivor's diff")
    ap.add_argument("--sample", type=int, default=0,
                    help="test N mutants drawn at random (--seed) from the targets' units instead of all of them")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--budget", type=float, default=BUDGET_S,
                    help="first-pass seconds per mutant (default 0: all its tests, one pass)")
    ap.add_argument("--second-budget", type=float, default=SECOND_BUDGET_S,
                    help="second-pass seconds per mutant (default 0: all of its tests)")
    ap.add_argument("--own", action="store_true",
                    help="fast selection: a mutant runs only its tests in its module's own test files: those that "
                         "killed mutants of the module before (mutmut_killers) and those named after it (all its "
                         "tests while the module has none)")
    ap.add_argument("--cap", type=float, default=0.0,
                    help="fast selection: a mutant runs its first tests (killers first) up to S seconds of their "
                         "measured time (default 0: no cap); those the cap leaves out count as not run")
    ap.add_argument("--mutants", type=Path,
                    help="test exactly the mutants named in this file (one a line), whatever their last result")
    args = ap.parse_args(argv)
    files = list(dict.fromkeys(f for t in args.targets for f in files_of(t)))
    WORK.mkdir(parents=True, exist_ok=True)
    if args.fresh:
        shutil.rmtree(WORK / "mutants", ignore_errors=True)
    measured = copy_tree(WORK, args.rev)
    write_config(WORK)
    if args.mutants:
        names = [n for n in args.mutants.read_text().split() if n]
    elif args.survivors:
        before = results(WORK)
        names = [k for k, v in before.items() if v not in KILLED and any(k.startswith(module_of(f) + ".") for f in files)]
        if not names:
            print("no survivors to re-test")
            return 0
    elif args.sample:
        names = sample(WORK, files, args.sample, args.seed)
        if not names:
            print("every sampled mutant is killed already")
    elif set(args.targets) >= set(UNITS):
        names = []  # everything; mutants that have a result keep it
    else:
        names = [module_of(f) + ".*" for f in files]
    print(f"== {len(files)} files on {measured}; {len(names) or 'all'} mutant names; tests: tests/ but {len(NOT_TESTS)} paths",
          flush=True)
    started, wall_started = time.monotonic(), time.time()
    if args.sample and not names:
        return report(args, files, measured)
    r = mutmut(WORK, "run", "--max-children", str(args.children), *names, budget=args.budget, own=args.own,
               cap=args.cap)
    print(f"first pass: {(time.monotonic() - started) / 60:.1f} min", flush=True)
    (WORK / "run.log").write_text(r.stdout + r.stderr)
    rate = re.findall(r"([\d.]+) mutations/second", r.stdout)
    if r.returncode != 0:
        print(f"mutmut run failed (see {WORK / 'run.log'}):\n{(r.stdout + r.stderr)[-2000:]}")
        return 1
    # Second pass: the mutants whose budget ran out get --second-budget (default: all their tests), their tests
    # now ordered by what the first pass learned (the tests that killed their function's other mutants first).
    spent = [k for k, v in results(WORK).items() if v == OUT_OF_BUDGET and any(k.startswith(module_of(f) + ".") for f in files)
             and (not (args.sample or args.mutants) or k in names)]
    if spent:
        each = f"{args.second_budget:.0f} s each" if args.second_budget else "all their tests"
        print(f"second pass: {len(spent)} mutants ran out of their {args.budget:.0f} s; {each}", flush=True)
        r = mutmut(WORK, "run", "--max-children", str(args.children), *spent, budget=args.second_budget,
                   own=args.own, cap=args.cap)
        (WORK / "run2.log").write_text(r.stdout + r.stderr)
        print(f"both passes: {(time.monotonic() - started) / 60:.1f} min", flush=True)
    if rate:
        print(f"rate (first pass): {float(rate[-1]) * 60:.1f} mutants/min")
    time_spent(since=wall_started)
    return report(args, files, measured)


def time_spent(since: float) -> None:
    """Where this run's time went: per outcome, how many mutants and their children's seconds (from the plugin's
    mutmut_times.jsonl; a child ended by the watchdog writes no line)."""
    outcome = {0: "survived", 1: "killed", 2: "budget spent"}
    rows = []
    with contextlib.suppress(OSError):
        for line in (WORK / "mutants" / "mutmut_times.jsonl").read_text().splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if row.get("at", 0) >= since:
                    rows.append(row)
    total = sum(r["seconds"] for r in rows) or 1.0
    for code in sorted({r["exit"] for r in rows}):
        mine = [r for r in rows if r["exit"] == code]
        secs = sum(r["seconds"] for r in mine)
        print(f"  {outcome.get(code, f'exit {code}')}: {len(mine)} mutants, {secs / 60:.1f} child-min "
              f"({100 * secs / total:.0f} %), {secs / len(mine):.1f} s and {sum(r['tests'] for r in mine) / len(mine):.1f} tests each")


def report(args: argparse.Namespace, files: list[str], measured: str) -> int:
    status = results(WORK)
    if args.mutants:
        drawn = set(args.mutants.read_text().split())
        status = {k: v for k, v in status.items() if k in drawn}
    elif args.sample:
        drawn = set(json.loads((WORK / "sample.json").read_text()))
        status = {k: v for k, v in status.items() if k in drawn}
    s = summarize(status, files, measured, args.budget)
    errors = sum(1 for v in status.values() if v == "runner error")
    if errors:
        print(f"WARNING: {errors} mutants ended with a runner error (exit 255: mutmut's test run raised in the child), "
              "counted as not killed; run again (they are re-tested)", flush=True)
    (WORK / "summary.json").write_text(json.dumps(s, indent=2, ensure_ascii=False))
    for f, fr in s["files"].items():
        print(f"{f}: {fr['killed']}/{fr['total']} killed = {100 * fr['killed'] / max(fr['total'], 1):.1f}%", flush=True)
        for name, st in fr["not_killed"].items():
            print(mutmut(WORK, "show", name).stdout if args.show else f"  {st}: {name}")
    for unit, u in s["units"].items():
        k, t = u["killed"], max(u["total"], 1)
        # a sample's score carries a 95 % interval (normal approximation)
        err = f" ± {196 * ((k / t) * (1 - k / t) / t) ** 0.5:.1f} (95 %, {t} sampled)" if args.sample or args.mutants else ""
        print(f"{unit}: {k}/{u['total']} killed = {100 * k / t:.1f}%{err}")
    return 0


@contextlib.contextmanager
def s3_server():
    """One moto server (the tests' S3 stand-in, tests/support/s3.py) for every child of the run: a child's own
    took ~4 s to start, in every mutant whose tests include one on S3. Each test still makes its own bucket."""
    import socket

    exe = Path(sys.executable).parent / "moto_server"
    if not exe.exists():
        yield
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["nice", "-n", "10", str(exe), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.2)
        os.environ["MEMCOLLAB_TEST_S3_ENDPOINT"] = f"http://127.0.0.1:{port}"
        yield
    finally:
        os.environ.pop("MEMCOLLAB_TEST_S3_ENDPOINT", None)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout`: still stop the S3 stand-in, clean up
    try:
        with s3_server():
            sys.exit(main())
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
