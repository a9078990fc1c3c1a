"""The `memcollab` command: serve, status, export, import, distill, maintain, forget.

Only `serve` speaks on stdout (JSON-RPC); every other command prints its result on stdout and progress on
stderr. Heavy modules are imported inside the command that needs them.
"""

from __future__ import annotations

import gc
import sys

# `memcollab serve` must answer its client's first request soon after it is spawned: the cyclic garbage
# collector finds almost nothing among the objects of the imports but cost ~10% of them. Off until the server
# is built (cmd_serve), then those objects are frozen out of every later collection.
if sys.argv[1:2] == ["serve"]:
    gc.disable()

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

from .cli_errors import UsageError, run_command
from .settings import Settings


def _env_defaults() -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level, logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")



def _exit_with_parent(parent: int) -> None:
    """A stdio server whose client died without closing our stdin would linger: watch the parent (its pid
    taken first thing, so a client that dies while the server is still importing is noticed too)."""
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(0.2)
            if os.getppid() != parent:
                logging.getLogger("memcollab.server").warning("client process went away; exiting")
                os._exit(0)

    threading.Thread(target=watch, name="memcollab-parent-watch", daemon=True).start()


def run_stdio(server: Any) -> None:
    """Serve stdio until the client closes it, on uvloop where it is installed (less CPU per message)."""
    import anyio

    try:
        import uvloop  # noqa: F401
    except ImportError:
        anyio.run(server.run_stdio_async)
    else:
        anyio.run(server.run_stdio_async, backend_options={"use_uvloop": True})


def _collect_from_now() -> None:
    """The garbage collector back on (see the top of this module), the objects made so far left out of it."""
    gc.freeze()
    gc.enable()


def cmd_serve(args: argparse.Namespace) -> int:
    parent = os.getppid()
    from .app import create_server

    settings = Settings.from_args(args)
    if getattr(args, "task_match", None):
        settings.task_match = args.task_match == "on"
    # the server encodes one query at a time: one torch thread (the CLI's batch jobs keep torch's default)
    os.environ.setdefault("MEMCOLLAB_TORCH_THREADS", "1")
    _logging(settings.log_level)
    if getattr(args, "transport", "stdio") == "http":
        from .app import Memory
        from .http import serve

        memory = Memory(settings)
        _collect_from_now()
        status = serve(memory, args.host, args.port, args.allowed_host, args.stateless)
        logging.shutdown()
        sys.stderr.flush()
        os._exit(status)  # as below: in-flight requests finished before uvicorn returned
    _exit_with_parent(parent)
    server = create_server(settings)
    _collect_from_now()
    run_stdio(server)
    # Every acknowledged write is committed already. Skip interpreter teardown: with torch's threads
    # alive (embedding model loaded) it can abort with "terminate called without an active exception".
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)


def cmd_token(args: argparse.Namespace) -> int:
    from memcollab.store.bank import Bank

    from .token_cli import cmd_token as run

    return run(args, Bank(Settings.from_args(args).store))


def cmd_maintain(args: argparse.Namespace) -> int:
    from memcollab.store.bank import Bank
    from memcollab.store.maintain import maintain

    report = maintain(Bank(Settings.from_args(args).store), show_progress=True)
    if report is None:
        print("maintenance is running in another process; skipped", file=sys.stderr)
        return 0
    print(json.dumps(report))
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from memcollab.store.bank import Bank
    from memcollab.store.forget import forget

    try:
        bank = Bank(Settings.from_args(args).store)
        report = forget(bank, args.record, args.model, args.agent, args.dry_run)
    except (ValueError, LookupError) as err:
        print(f"memcollab forget: {err}", file=sys.stderr)
        return 2
    print(report.model_dump_json())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .app import Memory
    from .tools.memory_status import status

    st = status(Memory(Settings.from_args(args)))
    if args.json:
        print(st.model_dump_json(indent=2))
        return 0
    from rich.console import Console

    from .status_tables import render

    render(st, Console())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from memcollab.store.bank import Bank
    from memcollab.store.transfer import export_jsonl

    if args.file != "-" and not Path(args.file).expanduser().resolve().parent.is_dir():
        raise UsageError(f"cannot write {args.file}: folder {Path(args.file).parent} does not exist; create it "
                         "or choose another path")
    bank = Bank(Settings.from_args(args).store)
    if args.file == "-":
        counts = export_jsonl(bank, sys.stdout)
    else:
        tmp = Path(args.file + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            counts = export_jsonl(bank, out)
        tmp.replace(args.file)
    print(f"exported {counts}", file=sys.stderr)
    return 0


def _embed_new_rows(bank: object) -> None:
    """Vectors for what was just imported, while we are here: a server started next classifies untagged
    tasks against the whole bank at once instead of a half-embedded one."""
    from memcollab.store.embed import get_embedder
    from memcollab.store.progress import progress
    from memcollab.store.vectors import backfill

    embedder = get_embedder()
    with progress("vectors", total=None) as bar:
        def step(done: int, total: int) -> None:
            bar.set_total(total)
            bar.advance(done - bar.done)

        backfill(bank, embedder, step)  # type: ignore[arg-type]


def cmd_import(args: argparse.Namespace) -> int:
    from memcollab.distill.pairing import pair_tasks
    from memcollab.store.bank import Bank
    from memcollab.store.transfer import import_jsonl

    from memcollab.store.progress import progress

    path = Path(args.file).expanduser()
    if args.file != "-" and not path.is_file():
        raise UsageError(f"cannot read {args.file}: " + ("it is a folder; give a JSONL file" if path.is_dir()
                         else "no such file; give a JSONL file written by `memcollab export`, or - for stdin"))
    total = None
    if args.file != "-":
        with path.open("rb") as f:
            total = sum(1 for _ in f)
    bank = Bank(Settings.from_args(args).store)
    src = sys.stdin if args.file == "-" else path.open(encoding="utf-8")  # noqa: SIM115
    with src, progress("import", total=total) as bar:
        def lines():
            for line in src:
                yield line
                bar.advance()

        report = import_jsonl(bank, lines(), progress=lambda _msg: None, include_forgotten=args.include_forgotten)
    pair_tasks(bank, sorted(report["tasks_to_pair"]))
    if Settings.from_args(args).embeddings and not args.no_vectors and (report["stored"]["record"]
                                                                  or report["stored"]["trajectory"]):
        _embed_new_rows(bank)
    if sum(report["stored"].values()) >= 1000:  # many new fragments: fold them in now
        from memcollab.store.maintain import maintain

        maintain(bank, show_progress=True)
    for err in report["errors"][:20]:
        print(f"skipped {err}", file=sys.stderr)
    if sum(report["forgotten"].values()):
        print(f"skipped forgotten objects {report['forgotten']} (--include-forgotten imports them)", file=sys.stderr)
    print(json.dumps({"read": report["read"], "stored": report["stored"], "forgotten": report["forgotten"],
                      "errors": len(report["errors"])}))
    return 1 if report["errors"] else 0


def cmd_distill(args: argparse.Namespace) -> int:
    import asyncio

    from memcollab.distill.run import run, work_list
    from memcollab.store.bank import Bank

    if not args.dry_run and not (args.model or os.environ.get("MEMCOLLAB_DISTILL_MODEL")):
        raise UsageError("no distillation model: pass --model MODEL (any litellm model string) or set "
                         "MEMCOLLAB_DISTILL_MODEL")
    bank = Bank(Settings.from_args(args).store)
    if args.dry_run:
        pairs = work_list(bank, args.limit)
        print(json.dumps({"would_distill": len(pairs), "pairs": [p.id for p in pairs]}))
        return 0
    embedder = None
    if not args.no_dedup_embeddings:
        from memcollab.store.embed import get_embedder

        embedder = get_embedder()
    try:
        summary = asyncio.run(run(bank, args.model, args.api_base, args.concurrency, args.limit, args.timeout,
                                  embedder=embedder))
    except ValueError as err:
        print(f"memcollab distill: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary.as_dict()))
    return 1 if summary.pairs_failed else 0


def cmd_ui(args: argparse.Namespace) -> int:
    from memcollab.store.bank import store_problem
    from memcollab.ui.app import UIConfig, serve

    settings = Settings.from_args(args)
    problem = store_problem(settings.store) if isinstance(settings.store, Path) else None
    if problem:
        raise UsageError(problem)
    dirs = [Path(d).expanduser() for d in args.eval or []]
    for d in dirs:
        if d.exists() and not d.is_dir():
            raise UsageError(f"--eval {d} is a file; give the output directory of `memcollab eval`")
    serve(UIConfig(store=settings.store, eval_dirs=dirs, allow_forget=args.allow_forget,
                   embeddings=settings.embeddings, rank=settings.rank, taxonomy_file=settings.taxonomy_file,
                   embed_wait=settings.embed_wait), args.host, args.port)
    return 0


def build_parser(eval_commands: bool = True) -> argparse.ArgumentParser:
    """`eval_commands=False` (for `serve`) keeps the eval room out of the server process entirely."""
    p = argparse.ArgumentParser(prog="memcollab", description=__doc__.splitlines()[0])
    p.add_argument("--debug", action="store_true", help="show the traceback when a command fails")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn, help: str) -> argparse.ArgumentParser:  # noqa: A002
        sp = sub.add_parser(name, help=help)
        sp.add_argument("--store", help="store directory, or s3://BUCKET/PREFIX (gs://, az://) (default: "
                        "$MEMCOLLAB_STORE or the user data dir)")
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback when the command fails")
        sp.set_defaults(fn=fn)
        return sp

    sv = add("serve", cmd_serve, "run the MCP server (stdio, or Streamable HTTP at /mcp)")
    sv.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    sv.add_argument("--host", default="127.0.0.1", help="http: address to bind (default 127.0.0.1; any other "
                    "address needs a token in the store first)")
    sv.add_argument("--port", type=int, default=8765, help="http: port (default 8765)")
    sv.add_argument("--allowed-host", action="append", metavar="HOST[:PORT]",
                    help="http: a Host header clients use (e.g. memory.example.com:8765); turns on Host/Origin "
                         "checks for it; repeatable")
    sv.add_argument("--stateless", action="store_true",
                    help="http: no sessions, so any server on the same store can answer any request (several "
                         "servers behind one load balancer)")
    sv.add_argument("--task-match", choices=("on", "off"),
                    help="join an untagged submission to a stored task it restates in other words (default: "
                         "$MEMCOLLAB_TASK_MATCH or on; needs the embedding model; docs/real-use.md)")
    from .token_cli import add_parser as add_token_parser

    add_token_parser(add, cmd_token)
    add("status", cmd_status, "what the bank holds").add_argument("--json", action="store_true")
    add("export", cmd_export, "write the bank as JSONL").add_argument("file", help="output file, or - for stdout")
    imp = add("import", cmd_import, "read JSONL into the bank")
    imp.add_argument("file", help="input file, or - for stdin")
    imp.add_argument("--include-forgotten", action="store_true",
                     help="also import what was removed with `forget` (skipped by default), lifting its tombstones")
    imp.add_argument("--no-vectors", action="store_true",
                     help="skip embedding the imported rows (a server computes them later; untagged queries wait "
                          "for that or say classified_by \"partial\")")
    add("maintain", cmd_maintain, "compact tables, refresh indexes, drop old versions (one process at a time)")
    f = add("forget", cmd_forget, "remove a record, or everything from one model or agent")
    f.add_argument("--record", help="a record id")
    f.add_argument("--model", help="every trajectory, pair and record from this model")
    f.add_argument("--agent", help="every trajectory, pair and record from this agent")
    f.add_argument("--dry-run", action="store_true", help="only report what would be removed")
    d = add("distill", cmd_distill, "distil pending contrast pairs into constraints with an LLM (litellm)")
    d.add_argument("--model", help="any litellm model string (default: $MEMCOLLAB_DISTILL_MODEL)")
    d.add_argument("--api-base", help="provider base URL, e.g. a local OpenAI-compatible server")
    d.add_argument("--concurrency", type=int, default=4, help="LLM calls in flight (default 4)")
    d.add_argument("--limit", type=int, help="at most this many pairs")
    d.add_argument("--timeout", type=float, default=120.0, help="seconds per LLM call (default 120)")
    d.add_argument("--dry-run", action="store_true", help="list the pairs that would be distilled")
    d.add_argument("--no-dedup-embeddings", action="store_true",
                   help="dedup by normalized text only (skips loading the embedding model)")
    u = add("ui", cmd_ui, "a local web dashboard over the bank (http://127.0.0.1:8766/)")
    u.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    u.add_argument("--port", type=int, default=8766, help="port (default 8766; 0 picks a free one)")
    u.add_argument("--eval", action="append", metavar="DIR", help="a `memcollab eval` output directory (repeatable)")
    u.add_argument("--allow-forget", action="store_true", help="allow forgetting records from the dashboard")
    if eval_commands:
        from memcollab.eval.cli import add_commands  # build, eval, judge; their heavy imports wait for the run

        add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    _env_defaults()
    first = (sys.argv[1:] if argv is None else argv)[:1]
    args = build_parser(eval_commands=first != ["serve"]).parse_args(argv)
    if args.command != "serve":
        _logging(Settings().log_level)
    return run_command(args.fn, args)  # errors → one line on stderr, exit 2 for usage/configuration


if __name__ == "__main__":
    sys.exit(main())
