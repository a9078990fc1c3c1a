"""`memcollab build`, `memcollab eval` (and `memcollab judge`, eval/judge.py; `memcollab contrast`,
eval/contrast.py): registered by server/cli.py's parser through `add_commands`. Nothing heavy is imported until
a command runs.

All print a JSON summary on stdout and progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .interrupt import run_interruptibly


def _models(text: str) -> list[str]:
    models = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not models:
        raise argparse.ArgumentTypeError("give at least one model, e.g. --models openai/gpt-4o-mini,ollama/qwen2.5")
    return models


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tasks", required=True, help="humaneval | reasoning-gym:FAMILY[,FAMILY...] | jsonl:PATH")
    p.add_argument("--models", required=True, type=_models,
                   help="comma-separated litellm model strings; MODEL@URL gives one model its own api base")
    p.add_argument("--limit", type=int, help="at most this many tasks")
    p.add_argument("--turns", type=int, default=3, help="answers per task: the verifier's feedback goes back after "
                                                        "a wrong one (default 3)")
    p.add_argument("--concurrency", type=int, default=4, help="LLM calls in flight (default 4)")
    p.add_argument("--api-base", help="provider base URL for every model of the run (litellm's env otherwise)")


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", help="store directory, or s3://BUCKET/PREFIX (default: $MEMCOLLAB_STORE or the "
                                   "user data dir)")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register build, eval, judge and contrast on server/cli.py's parser."""
    b = sub.add_parser("build", help="every model solves every task; verified trajectories go into the bank over "
                                     "MCP; then the contrasts are distilled")
    _add_store(b)
    _common(b)
    b.add_argument("--distiller", help="litellm model that distils the contrasts (default: the first model)")
    b.add_argument("--seed", type=int, default=0, help="seed for generated tasks (default 0)")
    b.add_argument("--cache", help="response cache file (default: the user cache dir)")
    b.set_defaults(fn=cmd_build)

    e = sub.add_parser("eval", help="the paper's protocol: build a bank from a memory half, measure every model "
                                    "on the test half under vanilla / own / naive / memcollab")
    _common(e)
    e.add_argument("--distiller", required=True, help="litellm model that distils the shared bank's contrasts")
    e.add_argument("--split", type=float, default=0.5, help="fraction of the tasks in the memory half (default 0.5)")
    e.add_argument("--seed", type=int, default=0, help="seed of the split and of generated tasks (default 0)")
    e.add_argument("--conditions", default="vanilla,own,naive,memcollab",
                   help="comma-separated subset of vanilla,own,naive,memcollab (default: all four)")
    e.add_argument("--out", required=True, help="output directory (created): stores, cache, report")
    e.set_defaults(fn=cmd_eval)

    from . import contrast, judge

    judge.add_parser(sub)
    contrast.add_parser(sub, _models)


def _fail(cmd: str, msg: str, code: int = 2) -> int:
    print(f"memcollab {cmd}: {msg}", file=sys.stderr)
    return code


def cmd_build(args: argparse.Namespace) -> int:
    from platformdirs import user_cache_dir

    from memcollab.server.settings import Settings

    from .agent import Agent
    from .bank_client import open_bank
    from .build import CallLog, build
    from .llm import LLM, ResponseCache
    from .tasks import load_tasks

    try:
        tasks, problems = load_tasks(args.tasks, args.limit, args.seed)
    except ValueError as err:  # TaskSourceError: an unknown source, a missing file
        return _fail("build", str(err))
    for p in problems[:20]:
        print(f"skipped {p}", file=sys.stderr)
    if not tasks:
        return _fail("build", f"no tasks from {args.tasks!r}")
    cache_path = Path(args.cache) if args.cache else \
        Path(user_cache_dir("memcollab", appauthor=False)) / "responses.sqlite"
    cache = ResponseCache(cache_path)
    log = CallLog(None)
    try:
        agent = Agent(LLM(cache, args.concurrency, args.api_base), args.turns)

        async def go() -> dict:
            async with open_bank(Settings.from_args(args).store) as bank:
                return (await build(agent, tasks, args.models, bank, args.distiller or args.models[0],
                                    args.api_base, args.concurrency, log))[1]

        report = run_interruptibly(go())
    except KeyboardInterrupt:
        return _fail("build", "interrupted; run the same command again to resume (answers so far are cached in "
                              f"{cache_path})", 130)
    finally:
        cache.close()
    report["task_problems"] = problems
    print(json.dumps(report))
    failed = sum(v["failed"] for v in report["trajectories"].values()) + report["distill"]["pairs_failed"]
    return 1 if failed else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .protocol import CONDITIONS, Options, run_eval

    conditions = tuple(dict.fromkeys(c.strip() for c in args.conditions.split(",") if c.strip()))
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown or not conditions:
        return _fail("eval", f"unknown condition(s) {unknown}; choose from {', '.join(CONDITIONS)}")
    if not 0 < args.split < 1:
        return _fail("eval", "--split must be between 0 and 1 (the memory half's fraction)")
    opts = Options(tasks=args.tasks, models=args.models, distiller=args.distiller, out=Path(args.out),
                   split=args.split, seed=args.seed, limit=args.limit, turns=args.turns, conditions=conditions,
                   concurrency=args.concurrency, api_base=args.api_base)
    try:
        summary = run_interruptibly(run_eval(opts))
    except KeyboardInterrupt:
        return _fail("eval", f"interrupted; run the same command again to resume (answers so far are cached in "
                             f"{opts.out / 'cache.sqlite'})", 130)
    except ValueError as err:
        return _fail("eval", str(err))
    print(json.dumps({k: summary[k] for k in ("seed", "tasks", "test_tasks_in_bank", "calls", "results")}))
    failed = sum(r["failed"] for r in summary["results"])
    distill_failed = summary["bank"]["distill"]["pairs_failed"] + sum(
        own["distill"]["pairs_failed"] for own in summary["own"].values())
    if failed or distill_failed:
        print(f"memcollab eval: {failed} task(s) without an answer and {distill_failed} pair(s) not distilled "
              "after provider errors; run the same command again to retry them", file=sys.stderr)
        return 1
    return 0
