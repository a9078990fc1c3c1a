"""`memcollab ui`: a local web dashboard over the bank (Starlette, server-rendered, plain links, no JS).

Pages: overview (/), records (/records, /records/search, /records/{id}), tasks and pairs (/tasks,
/tasks/{id}, /pairs), evaluations (/evals). Reads go through the same store functions the MCP tools use:
the search calls store.retrieve.retrieve exactly as get_constraints does, and forget calls
store.forget.forget. Everything shown comes from untrusted clients, so templates autoescape all of it.
Forget needs --allow-forget, a confirmation step, the session token and a same-origin POST (guard.py).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from memcollab.store.bank import Bank, StoreUnavailable
from memcollab.store.models import MAX_NAME, MAX_TASK, clean_text
from memcollab.store.retrieve import DEFAULT_LIMIT, MAX_LIMIT, retrieve
from memcollab.store.status import bank_status

from . import evals, reads
from .guard import COOKIE, Guard

log = logging.getLogger("memcollab.ui")
HERE = Path(__file__).parent
RANKS = ("bm25", "vector", "hybrid")


@dataclass
class UIConfig:
    store: Path | str  # a directory, or an object-store URI
    eval_dirs: list[Path] = field(default_factory=list)
    allow_forget: bool = False
    embeddings: bool = True  # as the MCP server: MEMCOLLAB_EMBEDDINGS=off keeps torch out
    rank: str = "bm25"  # default ranking, as MEMCOLLAB_RANK for the server
    taxonomy_file: Path | None = None
    embed_wait: float = 20.0
    allowed_hosts: list[str] = field(default_factory=lambda: ["127.0.0.1", "localhost", "::1", "[::1]"])


class Dashboard:
    def __init__(self, config: UIConfig):
        self.config = config
        self.bank = Bank(config.store)
        self.guard = Guard()
        self.cache = reads.VersionCache(self.bank)
        self.cached_bank = reads.CachedBank(self.bank, self.cache)
        self._taxonomy: Any = None

    def warm_up(self) -> None:
        try:
            for name in ("trajectories", "pairs", "records", "feedback", "verdicts"):
                self.bank.table(name)
        except Exception as err:  # the pages say what is wrong; this only saves time on the first one
            log.warning("could not open the store yet: %s", err)

    def record_index(self) -> Any:
        return self.cache.get("record-index", ("records",), lambda: reads.record_index(self.bank))

    def taxonomy(self) -> Any:
        if self._taxonomy is None:
            from memcollab.store.taxonomy import load_taxonomy

            self._taxonomy = load_taxonomy(self.config.taxonomy_file)
        return self._taxonomy

    def embedder(self, wait: bool) -> Any:
        """The same rule as the MCP server: use the model when loaded; wait for it only when the query
        needs it (no tag, or vector/hybrid ranking)."""
        if not self.config.embeddings:
            return None
        from memcollab.store.embed import embedder_if_ready, start_background_load, state, wait_for_embedder

        ready = embedder_if_ready()
        if ready is not None or not wait:
            return ready
        if state() == "not loaded":
            start_background_load()
        return wait_for_embedder(self.config.embed_wait)


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return min(max(int(value or default), lo), hi)
    except ValueError:
        return default


def _name(value: str | None) -> str | None:
    """A tag from the query string, cleaned as get_constraints cleans it (empty → None)."""
    v = clean_text(value or "").strip()[:MAX_NAME]
    return v or None


def create_app(config: UIConfig) -> Starlette:
    dash = Dashboard(config)
    import jinja2

    # autoescape everywhere: every value from the bank is untrusted text
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
    templates = Jinja2Templates(env=env)
    templates.env.globals.update(eval_cell=evals.cell, result_columns=evals.RESULT_COLUMNS,
                                 metadata=reads.pretty_metadata)

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        sid, new = dash.guard.session_id(request)
        context.update(nav=name.split(".")[0], allow_forget=config.allow_forget, store=str(dash.bank.path),
                       csrf=dash.guard.token(sid))
        resp = templates.TemplateResponse(request, name, context, status_code=status_code)
        if new:
            resp.set_cookie(COOKIE, sid, httponly=True, samesite="strict")
        resp.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'self'; img-src 'self'; "
                                                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        return resp

    def overview(request: Request) -> Response:
        st = bank_status(dash.cached_bank, config.embeddings)  # type: ignore[arg-type]
        top = max(st.records_by_category.values(), default=0)
        return render(request, "overview.html", st=st, top=top, evals=len(config.eval_dirs))

    def records(request: Request) -> Response:
        q = request.query_params
        category, subcategory = _name(q.get("category")), _name(q.get("subcategory"))
        number = _int(q.get("page"), 1, 1, 10**9)

        key = ("records", category, subcategory, number)
        page = dash.cache.get(key, ("records",), lambda: reads.record_page(dash.bank, dash.record_index(), category,
                                                                           subcategory, number))
        views = dash.cache.get((*key, "feedback"), ("records", "feedback"),
                               lambda: reads.with_feedback(dash.bank, page.items))
        return render(request, "records.html", page=page, views=views, category=category, subcategory=subcategory,
                      cats=dash.cache.get("categories", ("records",), lambda: reads.categories(dash.record_index())),
                      forgotten=q.get("forgotten", "")[:MAX_NAME], search=None, ranks=RANKS,
                      rank=config.rank, limit=DEFAULT_LIMIT, task="")

    def search(request: Request) -> Response:
        q = request.query_params
        task = clean_text(q.get("task", "")).strip()
        category, subcategory = _name(q.get("category")), _name(q.get("subcategory"))
        rank = q.get("rank") if q.get("rank") in RANKS else config.rank
        limit = _int(q.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
        problem = None
        found = None
        if not task:
            problem = "type the task you want constraints for"
        elif len(task) > MAX_TASK:
            problem = f"the task is {len(task)} characters; the limit is {MAX_TASK}"
        elif subcategory and not category:
            problem = "a subcategory needs its category"
        else:
            embedder = dash.embedder(wait=not category or rank != "bm25")
            found = retrieve(dash.bank, task, category, subcategory, limit, rank,  # type: ignore[arg-type]
                             embedder, dash.taxonomy())
        views = []
        if found is not None:
            recs = dash.bank.get_records([r.record_id for r in found.records])
            by_id = {v.record.id: v for v in reads.with_feedback(dash.bank, list(recs.values()))}
            views = [(r, by_id.get(r.record_id)) for r in found.records]
        return render(request, "search.html", status_code=400 if problem else 200, task=task,
                      category=category, subcategory=subcategory, rank=rank, limit=limit, ranks=RANKS,
                      problem=problem, found=found, views=views,
                      cats=dash.cache.get("categories", ("records",), lambda: reads.categories(dash.record_index())))

    def record_page(template: str) -> Any:
        def show(request: Request) -> Response:  # the record's page, or its forget confirmation
            view = reads.record_detail(dash.bank, request.path_params["record_id"])
            if view is None:
                return render(request, "missing.html", 404, what="record", key=request.path_params["record_id"])
            return render(request, template, view=view, problem=None)

        return show

    async def forget_post(request: Request) -> Response:
        record_id = request.path_params["record_id"]
        form = await request.form()
        view = reads.record_detail(dash.bank, record_id)
        if view is None:
            return render(request, "missing.html", 404, what="record", key=record_id)
        if not config.allow_forget:
            return render(request, "forget.html", 403, view=view,
                          problem="forgetting is off: start the dashboard with `memcollab ui --allow-forget`")
        problem = dash.guard.problem(request, str(form.get("csrf", "")))
        if problem:
            return render(request, "forget.html", 403, view=view, problem=problem)
        if form.get("confirm") != "yes":
            return render(request, "forget.html", 400, view=view,
                          problem="not confirmed: tick the box to confirm, then press Forget")
        from memcollab.store.forget import forget

        forget(dash.bank, record_id=record_id, reason="forgotten from the web dashboard")
        return RedirectResponse(f"/records?forgotten={record_id}", status_code=303)

    def tasks(request: Request) -> Response:
        number = _int(request.query_params.get("page"), 1, 1, 10**9)
        page = dash.cache.get(("tasks", number), ("trajectories", "pairs"), lambda: reads.task_page(dash.bank, number))
        return render(request, "tasks.html", page=page)

    def task(request: Request) -> Response:
        detail = reads.task_detail(dash.bank, request.path_params["task_id"])
        if detail is None:
            return render(request, "missing.html", 404, what="task", key=request.path_params["task_id"])
        return render(request, "task.html", d=detail)

    def pairs(request: Request) -> Response:
        q = request.query_params
        status = q.get("status") if q.get("status") in ("pending", "distilled", "failed", "skipped") else None
        number = _int(q.get("page"), 1, 1, 10**9)
        page, counts = dash.cache.get(("pairs", status, number), ("pairs",), lambda: (
            reads.pair_page(dash.bank, status, number), dict(dash.bank.counter("pairs", "status"))))
        return render(request, "pairs.html", page=page, status=status, counts=counts)

    def eval_list(request: Request) -> Response:
        return render(request, "evals.html", runs=evals.read_evals(config.eval_dirs))

    def eval_chart(request: Request) -> Response:
        p = evals.chart_path(config.eval_dirs, _int(request.path_params["index"], -1, -1, 10**6))
        if p is None:
            return Response("no chart", status_code=404, media_type="text/plain")
        return FileResponse(p, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def store_error(request: Request, exc: Exception) -> Response:
        return HTMLResponse(templates.get_template("store_error.html").render(message=str(exc)), status_code=503)

    def favicon(_request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", overview),
        Route("/favicon.ico", favicon),
        Route("/records", records),
        Route("/records/search", search),
        Route("/records/{record_id}", record_page("record.html")),
        Route("/records/{record_id}/forget", record_page("forget.html"), methods=["GET"]),
        Route("/records/{record_id}/forget", forget_post, methods=["POST"]),
        Route("/tasks", tasks),
        Route("/tasks/{task_id}", task),
        Route("/pairs", pairs),
        Route("/evals", eval_list),
        Route("/evals/{index}/accuracy.png", eval_chart),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # open the tables (imports lancedb) before the first page is asked for
        threading.Thread(target=dash.warm_up, name="memcollab-ui-warm-up", daemon=True).start()
        yield

    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=config.allowed_hosts)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers={StoreUnavailable: store_error})


def serve(config: UIConfig, host: str = "127.0.0.1", port: int = 8766) -> None:
    """Bind first (so a port in use is a clear error before anything else), then run uvicorn."""
    import socket

    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: without it a response written in two parts (headers, then a file)
    # waits ~40 ms for the client's delayed ACK (Nagle)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise OSError(err.errno, f"cannot listen on {host}:{port} ({err.strerror}); pass --port N") from None
    sock.listen(128)
    if host not in ("127.0.0.1", "localhost", "::1"):
        config.allowed_hosts = [*config.allowed_hosts, host if ":" not in host else f"[{host}]"]
        if host in ("0.0.0.0", "::"):
            config.allowed_hosts = ["*"]
        log.warning("the dashboard listens on %s: anyone who can reach this address can read the bank", host)
    real_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"memcollab ui: http://{shown}:{real_port}/  (store {config.store}; Ctrl-C stops it)", file=sys.stderr,
          flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning", access_log=False))
    server.run(sockets=[sock])
