"""`memcollab contrast --models M1[,M2...]`: turn the tasks one model saw into contrasts.

In real use most tasks reach the bank from one client, so one model, and never pair. This command finds such
tasks in the bank and has other models try them:

- **which tasks**: those whose trajectories come from one model only, and (unless `--tasks-seen-by-one`)
  those several models tried with no correct/incorrect split across models (the pairing rule of
  distill/pairing.py finds no contrast in them). Oldest first; `--limit` keeps the first N;
- **own unknowns first**: a selected task's trajectories still labelled `unknown` are judged first (the same
  versioned, fenced prompt as `memcollab judge`: eval/judge.py's build_messages / parse_verdict /
  source_label). When that forms a split across models the task is paired and nobody new has to try it;
- **each model of --models that has not tried the task** (names compared without provider prefix and
  case, so `openai/gpt-4o-mini` has tried what `gpt-4o-mini` submitted: a model never contrasts with itself)
  answers it with the agent loop of `memcollab build` (eval/agent.py's prompt), one turn: no verifier exists
  for a live task. The answer is submitted through a real MCP client (eval/bank_client.py, `memcollab serve`
  over stdio) with the task's stored `task_id`, outcome `unknown` and `metadata.label_source: "judge"`; then
  the judge labels the stored trajectory with `Bank.label_outcome`, as `memcollab judge` does, so its
  `outcome_source` is `judge:<model>:<prompt version>`, and its task is paired at once (distill/pairing.py),
  in the same thread call as the label. Records distilled from those pairs list the source in
  `outcome_sources`.

Every LLM call (answers and verdicts) goes through eval/llm.py's cached, retried client. A verdict's fence
nonce is derived from the trajectory's id with a key kept next to the cache (`<cache>.judge-key`), so the same
question is the same cache key and still unpredictable to whoever wrote the trajectory. So a rerun costs
nothing: tasks a model already tried are skipped, answers and verdicts come from the cache. Ctrl-C leaves a
consistent bank: a trajectory submitted but not yet labelled is still `unknown` and is judged by the rerun
(its model counts as having tried the task); a label and its pairs are written together.

A verdict of "unknown" or a reply that is not the judge's JSON leaves the trajectory unknown (counted); it is
cached like any reply, so a rerun with the same cache does not ask again. Provider errors are counted as
failures (exit code 1) and are not cached: a rerun retries them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memcollab.distill.llm import model_name, split_model

from .judge import JUDGE_PROMPT_VERSION, build_messages, parse_verdict, source_label, template

if TYPE_CHECKING:  # the agent, its tasks and the LLM client load when the command runs, not with the parser
    from memcollab.store.models import Trajectory as StoredTrajectory

    from .tasks import Task

AGENT = "memcollab-contrast"
KINDS = ("code", "answer", "gym")
# --dry-run's estimate: tokens from the prompt's length, and what an answer and a verdict usually take
CHARS_PER_TOKEN = 4
ANSWER_TOKENS = 500
VERDICT_TOKENS = 60


def model_key(model: str) -> str:
    """What "the same model" means here: the name without any @URL, provider prefix or case
    ("openai/GPT-4o-mini@http://..." and "gpt-4o-mini" are one model)."""
    return model_name(model).strip().lower().rsplit("/", 1)[-1]


@dataclass
class TaskView:
    """One bank task as this command sees it."""

    task_id: str
    text: str
    category: str | None
    subcategory: str | None
    kind: str
    created: Any
    stored_models: set[str]
    unknown: list[StoredTrajectory]
    missing: list[str]  # the --models specs that have not tried it

    def task(self) -> Task:
        from .tasks import Task

        return Task(id=self.task_id, text=self.text, category=self.category,
                    subcategory=self.subcategory if self.category else None, kind=self.kind, data={})


def has_split(trajs: Sequence[Any]) -> bool:
    """A correct and an incorrect trajectory from different models: the pairing rule finds a contrast."""
    from memcollab.distill.pairing import contrasts

    return bool(contrasts(trajs, []))


def select_tasks(trajectories: list[StoredTrajectory], models: list[str], seen_by_one: bool,
                 limit: int | None = None) -> list[TaskView]:
    """The tasks to contrast, oldest first: seen by one model (by `model_key`), or (unless `seen_by_one`) by
    several with no split across models; and with something to do (an unknown to judge, a model to try)."""
    by_task: dict[str, list[StoredTrajectory]] = {}
    for t in trajectories:
        by_task.setdefault(t.task_id, []).append(t)
    out = []
    for task_id, ts in by_task.items():
        ts.sort(key=lambda t: (t.created_at, t.id))
        keys = {model_key(t.model) for t in ts}
        if len(keys) > 1 and (seen_by_one or has_split(ts)):
            continue
        missing = [m for m in models if model_key(m) not in keys]
        unknown = [t for t in ts if t.outcome == "unknown"]
        if not missing and not unknown:
            continue
        tagged = next((t for t in ts if t.category), None)
        kind = next((t.metadata["kind"] for t in ts if t.metadata.get("kind") in KINDS), "answer")
        out.append(TaskView(task_id=task_id, text=ts[0].task, category=tagged.category if tagged else None,
                            subcategory=tagged.subcategory if tagged else None, kind=kind, created=ts[0].created_at,
                            stored_models={t.model for t in ts}, unknown=unknown, missing=missing))
    out.sort(key=lambda v: (v.created, v.task_id))
    return out[:limit] if limit else out


class NonceKey:
    """The secret a verdict's fence nonce is derived from (see the module's doc), one file beside the cache."""

    def __init__(self, path: Path, create: bool = True):
        self.path = path
        self.key: bytes | None = None
        if path.exists():
            self.key = bytes.fromhex(path.read_text().strip())
        elif create:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = secrets.token_hex(32)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another run made it just now
                self.key = bytes.fromhex(path.read_text().strip())
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(key)
                self.key = bytes.fromhex(key)

    def nonce(self, trajectory_id: str) -> str:
        if self.key is None:
            return "0" * 12  # --dry-run without a key yet: only lengths matter
        return hmac.new(self.key, trajectory_id.encode(), hashlib.sha256).hexdigest()[:12]


def key_path(cache_path: Path) -> Path:
    return cache_path.with_name(cache_path.name + ".judge-key")


@dataclass
class Summary:
    store: str
    models: list[str]
    judge: str
    seen_by_one: bool
    prompt_version: str = JUDGE_PROMPT_VERSION
    tasks: dict[str, int] = field(default_factory=lambda: {"selected": 0, "contrasted": 0, "paired_by_judging": 0})
    calls: dict[str, int] = field(default_factory=lambda: {"solve": 0, "judge": 0, "cached": 0, "failed": 0})
    trajectories: dict[str, dict[str, int]] = field(default_factory=dict)  # new ones, by model and label
    judged_existing: dict[str, int] = field(default_factory=lambda: {
        "correct": 0, "incorrect": 0, "undecided": 0, "invalid": 0, "failed": 0})
    pairs_formed: int = 0
    tokens_in: int = 0  # paid in this run: cached replies cost nothing again
    tokens_out: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        d = asdict(self)
        d["cost_usd"] = round(d["cost_usd"], 6)
        return d

    def count(self, call: Any, kind: str) -> None:
        self.calls[kind] += 1
        if call.cached:
            self.calls["cached"] += 1
        else:
            self.tokens_in += call.tokens_in
            self.tokens_out += call.tokens_out
            self.cost_usd += call.cost_usd

    def fail(self, what: str, err: BaseException) -> None:
        self.calls["failed"] += 1
        self.failures.append(f"{what}: {str(err).splitlines()[0] if str(err) else type(err).__name__}"[:300])


class Contrast:
    """One run: `llm` (eval/llm.py's LLM), `bank` (in-process, for reads and labels), `client` (the MCP
    BankClient submissions go through)."""

    def __init__(self, llm: Any, bank: Any, client: Any, judge: str, nonces: NonceKey, summary: Summary):
        self.llm, self.bank, self.client, self.judge, self.nonces = llm, bank, client, judge, nonces
        self.source = source_label(model_name(judge))
        self.summary = summary

    def _label_and_pair(self, t: StoredTrajectory, outcome: str) -> bool:
        """The label and its task's pairs in one thread call: a Ctrl-C cannot fall between them (asyncio.run
        waits for a running thread call before it returns)."""
        from memcollab.distill.pairing import pair_tasks

        if not self.bank.label_outcome(t.id, outcome, self.source):
            return False
        pair_tasks(self.bank, [t.task_id])
        return True

    async def verdict(self, t: StoredTrajectory) -> str:
        """Judge one stored trajectory; label it when the judge decides. Returns correct, incorrect, unknown
        (undecided), invalid (not the judge's JSON) or failed (provider error)."""
        from .llm import ProviderError

        try:
            reply = await self.llm.ask(self.judge, build_messages(t, self.nonces.nonce(t.id)))
        except ProviderError as err:
            self.summary.fail(f"judge {t.id}", err)
            return "failed"
        self.summary.count(reply.call, "judge")
        parsed = parse_verdict(reply.text)
        if parsed is None:
            return "invalid"
        outcome = parsed[0]
        if outcome == "unknown":
            return "unknown"
        await asyncio.to_thread(self._label_and_pair, t, outcome)
        return outcome

    async def judge_existing(self, t: StoredTrajectory) -> str:
        got = await self.verdict(t)
        key = {"unknown": "undecided"}.get(got, got)
        self.summary.judged_existing[key] += 1
        if t.agent == AGENT:  # one of ours, submitted by a run that stopped before its verdict
            self.summary.trajectories.setdefault(t.model, _labels())[_label(got)] += 1
        return got

    async def solve_and_submit(self, view: TaskView, spec: str) -> str:
        """One model answers the task once; the answer goes in over MCP (unknown), then the judge labels it."""
        from .agent import Attempt, first_messages
        from .agent import Trajectory as AgentTrajectory
        from .bank_client import submission
        from .llm import ProviderError
        from .verify import extract_answer

        name = model_name(spec)
        counts = self.summary.trajectories.setdefault(name, _labels())
        task = view.task()
        try:
            answer = await self.llm.ask(spec, first_messages(task, None))
        except ProviderError as err:
            self.summary.fail(f"{name} on {view.task_id}", err)
            counts["failed"] += 1
            return "failed"
        self.summary.count(answer.call, "solve")
        traj = AgentTrajectory(task=task, model=spec, calls=[answer.call],
                               attempts=[Attempt(answer.text, extract_answer(task, answer.text), False, "")])
        args = submission(traj)  # the build's arguments, cut to the server's limits
        args.update(outcome="unknown", agent=AGENT, metadata={
            "label_source": "judge", "judge": self.source, "turns": 1, "kind": view.kind, "contrast": True})
        stored = await self.client.submit_arguments(args)
        t = (await asyncio.to_thread(self.bank.get_trajectories, [stored["trajectory_id"]]))[stored["trajectory_id"]]
        got = await self.verdict(t)
        counts[_label(got)] += 1
        return got

    async def task(self, view: TaskView, bar: Any) -> None:
        labelled = False
        for t in view.unknown:  # the task's own unknowns first (in order: one judge call at a time per task)
            labelled |= await self.judge_existing(t) in ("correct", "incorrect")
            bar.advance(note=f"failed {self.summary.calls['failed']}")
        if view.missing and labelled and len({model_key(m) for m in view.stored_models}) > 1 and has_split(
                await asyncio.to_thread(self.bank.trajectories_for_task, view.task_id)):
            self.summary.tasks["paired_by_judging"] += 1  # judging formed a split: nobody new has to try it
            bar.advance(len(view.missing))
            return
        done = await asyncio.gather(*(self._one(view, m, bar) for m in view.missing))
        if any(d != "failed" for d in done):
            self.summary.tasks["contrasted"] += 1

    async def _one(self, view: TaskView, spec: str, bar: Any) -> str:
        try:
            return await self.solve_and_submit(view, spec)
        finally:
            bar.advance(note=f"failed {self.summary.calls['failed']}")


def _labels() -> dict[str, int]:
    return {"correct": 0, "incorrect": 0, "unknown": 0, "failed": 0}


def _label(verdict: str) -> str:
    """A new trajectory's label in the summary: a verdict that decided nothing leaves it unknown."""
    return verdict if verdict in ("correct", "incorrect") else "failed" if verdict == "failed" else "unknown"


async def run_contrast(store: Any, models: list[str], judge: str, api_base: str | None, limit: int | None,
                       seen_by_one: bool, concurrency: int, cache: Any, nonces: NonceKey) -> Summary:
    from memcollab.distill.pairing import pair_unpaired
    from memcollab.store.bank import Bank, is_in
    from memcollab.store.progress import progress

    from .bank_client import open_bank
    from .llm import LLM

    started = time.monotonic()
    bank = Bank(store)
    await asyncio.to_thread(pair_unpaired, bank)  # a run stopped between a label and its pairs (belt and braces)
    views = select_tasks(await asyncio.to_thread(bank.trajectories), models, seen_by_one, limit)
    summary = Summary(store=str(store), models=[model_name(m) for m in models], judge=model_name(judge),
                      seen_by_one=seen_by_one)
    summary.tasks["selected"] = len(views)
    for m in models:
        summary.trajectories.setdefault(model_name(m), _labels())
    ids = [v.task_id for v in views]
    if not views:
        summary.seconds = round(time.monotonic() - started, 3)
        return summary
    before = await asyncio.to_thread(bank.count, "pairs", is_in("task_id", ids))
    llm = LLM(cache, concurrency, api_base)
    try:
        async with open_bank(store) as client:
            run = Contrast(llm, bank, client, judge, nonces, summary)
            with progress("contrast", total=sum(len(v.unknown) + len(v.missing) for v in views)) as bar:
                await asyncio.gather(*(run.task(v, bar) for v in views))
    finally:
        summary.seconds = round(time.monotonic() - started, 3)
    summary.pairs_formed = await asyncio.to_thread(bank.count, "pairs", is_in("task_id", ids)) - before
    return summary


# --- --dry-run -------------------------------------------------------------------------------------------

def _tokens(messages: list[dict[str, str]]) -> int:
    return max(1, sum(len(m["content"]) for m in messages) // CHARS_PER_TOKEN)


def dry_run(views: list[TaskView], models: list[str], judge: str, cache: Any, nonces: NonceKey,
            api_base: str | None) -> dict[str, Any]:
    """What a run would do and cost, asking nothing: answers already in the cache are free; the rest is
    priced with litellm's cost map from an estimate of the tokens (the prompt's length / CHARS_PER_TOKEN in,
    ANSWER_TOKENS or VERDICT_TOKENS out)."""
    from .agent import first_messages
    from .llm import LLM, cache_key

    params = LLM(None, 1, api_base).params
    calls = {"solve": 0, "judge": 0, "cached": 0}
    usage: dict[str, list[int]] = {}  # model -> [tokens in, tokens out] still to pay

    def ask(spec: str, messages: list[dict[str, str]], out: int, kind: str) -> None:
        calls[kind] += 1
        model = split_model(spec, api_base)[0]
        if cache is not None and cache.get(cache_key(model, messages, params)) is not None:
            calls["cached"] += 1
            return
        u = usage.setdefault(model, [0, 0])
        u[0] += _tokens(messages)
        u[1] += out

    verdict_frame = len(template()) // CHARS_PER_TOKEN + 40
    for v in views:
        for t in v.unknown:
            ask(judge, build_messages(t, nonces.nonce(t.id)), VERDICT_TOKENS, "judge")
        for m in v.missing:
            ask(m, first_messages(v.task(), None), ANSWER_TOKENS, "solve")
            calls["judge"] += 1  # the verdict on an answer not given yet: estimated from its task and length
            u = usage.setdefault(split_model(judge, api_base)[0], [0, 0])
            u[0] += verdict_frame + len(v.text) // CHARS_PER_TOKEN + ANSWER_TOKENS
            u[1] += VERDICT_TOKENS
    cost, unpriced = 0.0, []
    for model, (tin, tout) in sorted(usage.items()):
        price = _price(model, tin, tout)
        if price is None:
            unpriced.append(model)
        else:
            cost += price
    return {"dry_run": True, "tasks": len(views), "calls": calls,
            "by_model": {model_name(m): sum(model_key(m) == model_key(x) for v in views for x in v.missing)
                         for m in models},
            "judge_existing": sum(len(v.unknown) for v in views),
            "estimate": {"tokens_in": sum(u[0] for u in usage.values()), "tokens_out": sum(u[1] for u in usage.values()),
                         "cost_usd": round(cost, 6), "unpriced_models": unpriced,
                         "assumes": f"{CHARS_PER_TOKEN} characters a token in; {ANSWER_TOKENS} tokens an answer, "
                                    f"{VERDICT_TOKENS} a verdict out; cached answers free; litellm's cost map"}}


def _price(model: str, tokens_in: int, tokens_out: int) -> float | None:
    import litellm

    try:
        p_in, p_out = litellm.cost_per_token(model=model, prompt_tokens=tokens_in, completion_tokens=tokens_out)
    except Exception:  # not in the cost map: priced at nothing, and said so
        return None
    return float(p_in) + float(p_out)


# --- the command -----------------------------------------------------------------------------------------

def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def _model(text: str) -> str:
    if not text.strip() or "," in text:
        raise argparse.ArgumentTypeError("give one litellm model string, e.g. --judge openai/gpt-4o-mini")
    return text.strip()


def add_parser(sub: argparse._SubParsersAction, models_type: Any) -> None:
    c = sub.add_parser("contrast", help="tasks only one model saw (or with no correct/incorrect split across "
                                        "models): other models answer them, a judge labels the answers, pairs form")
    c.add_argument("--models", required=True, type=models_type,
                   help="comma-separated litellm model strings that try the tasks; MODEL@URL gives one model its "
                        "own api base")
    c.add_argument("--judge", type=_model, help="litellm model that labels the answers (default: the first model)")
    c.add_argument("--api-base", help="provider base URL for every model of the run (litellm's env otherwise)")
    c.add_argument("--limit", type=_positive, help="at most this many tasks (oldest first)")
    c.add_argument("--tasks-seen-by-one", action="store_true",
                   help="only tasks whose trajectories all come from one model (default: also tasks several "
                        "models tried with no correct/incorrect split across models)")
    c.add_argument("--concurrency", type=_positive, default=4, help="LLM calls in flight (default 4)")
    c.add_argument("--dry-run", action="store_true",
                   help="print how many tasks and calls it would make and their estimated cost; call nothing")
    c.add_argument("--store", help="store directory, or s3://BUCKET/PREFIX (default: $MEMCOLLAB_STORE or the "
                                   "user data dir)")
    c.add_argument("--cache", help="response cache file (default: the user cache dir, shared with build)")
    c.set_defaults(fn=cmd_contrast)


def _fail(msg: str, code: int = 2) -> int:
    print(f"memcollab contrast: {msg}", file=sys.stderr)
    return code


def cmd_contrast(args: argparse.Namespace) -> int:
    from platformdirs import user_cache_dir

    from memcollab.server.settings import Settings
    from memcollab.store.bank import Bank, StoreUnavailable
    from memcollab.store.location import is_remote

    from .interrupt import run_interruptibly
    from .llm import ResponseCache

    store = Settings.from_args(args).store
    if not is_remote(store) and not Path(store).expanduser().is_dir():
        return _fail(f"no bank at {store}; pass --store DIR (a store that holds trajectories) or set "
                     "MEMCOLLAB_STORE")
    judge = args.judge or args.models[0]
    cache_path = Path(args.cache).expanduser() if args.cache else \
        Path(user_cache_dir("memcollab", appauthor=False)) / "responses.sqlite"
    if cache_path.is_dir():
        return _fail(f"--cache {cache_path} is a directory; give a file, e.g. {cache_path / 'responses.sqlite'}")

    if args.dry_run:  # reads the bank and the cache, writes and asks nothing
        try:
            views = select_tasks(Bank(store).trajectories(), args.models, args.tasks_seen_by_one, args.limit)
        except StoreUnavailable as err:
            return _fail(str(err))
        cache = ResponseCache(cache_path) if cache_path.exists() else None
        try:
            report = dry_run(views, args.models, judge, cache, NonceKey(key_path(cache_path), create=False),
                             args.api_base)
        finally:
            if cache is not None:
                cache.close()
        print(json.dumps(report))
        return 0

    cache = ResponseCache(cache_path)
    try:
        summary = run_interruptibly(run_contrast(store, args.models, judge, args.api_base, args.limit,
                                                  args.tasks_seen_by_one, args.concurrency, cache,
                                                  NonceKey(key_path(cache_path))))
    except KeyboardInterrupt:
        return _fail("interrupted; run the same command again to finish (the bank is consistent: answers so far "
                     f"are cached in {cache_path}, tasks a model already tried are skipped)", 130)
    except StoreUnavailable as err:
        return _fail(str(err))
    finally:
        cache.close()
    print(json.dumps(summary.as_dict()))
    return 1 if summary.calls["failed"] else 0
