"""The dashboard's page times against a floor measured in the same run.

For each store size (records filled with the store's bulk import, the same lines as bench_server.py, once:
the filled store is kept under --cache and reused), a real `memcollab ui` process (uvicorn) serves:
- the overview `/` and the records page `/records` (first page, and one filtered by a tag), and a search
  (`/records/search`, tagged, BM25: what get_constraints answers);
- the overview and records pages again "after feedback" and "after a new record": a feedback row, or a
  record, is written before each load, so what that table feeds is read from the store again instead of the
  dashboard's per-table-version cache (the first view after a running server wrote something);
- measured over plain HTTP, 20 loads each: time to first byte (request sent → status line and headers read)
  and full load (HTML body plus the stylesheet, the page's only sub-resource), p50 and p90;
- when Chromium is at /usr/bin/chromium: the browser's own Navigation Timing for the same pages (responseStart
  and loadEventEnd), p50 of 20 navigations.
The floor: a trivial Starlette page (a few hundred bytes of HTML) behind the same uvicorn settings in the same
run; every figure is also printed as a ratio of it. Target: ≤ 200 ms at 100k records.

    python bench/bench_ui.py [--quick] [--sizes 1000,100000] [--cache DIR]   (--quick: 1k and 10k)
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
EXE = str(Path(sys.executable).parent / "memcollab")
CHROMIUM = "/usr/bin/chromium"
LOADS = 20
FLOOR = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route
PAGE = "<!doctype html><html><head><title>floor</title><link rel=stylesheet href=/style.css></head><body>" \\
       + "<p>a trivial page</p>" * 10 + "</body></html>"
app = Starlette(routes=[Route("/", lambda r: HTMLResponse(PAGE)),
                        Route("/style.css", lambda r: PlainTextResponse("body{}", media_type="text/css"))])
print("floor: http://127.0.0.1:%d/" % int(sys.argv[1]), file=sys.stderr, flush=True)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()  # type: ignore[union-attr]
        m = re.search(r"http://(127\.0\.0\.1:\d+)/", line)
        if m:
            host = m.group(1)
            _wait_ready(host)
            return proc, host
        if not line and proc.poll() is not None:
            break
    raise SystemExit(f"{argv[0]} did not start")


def _wait_ready(host: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection(host, timeout=60)
            c.request("GET", "/favicon.ico")
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)


def http_times(host: str, path: str, css: str, loads: int = LOADS,
               before_each: Any = None) -> tuple[list[float], list[float]]:
    """(time to first byte, full load) in ms for `loads` loads, each on a fresh connection (a browser's
    first visit), after one warm-up load. `before_each`: called before every load (a write, so the page
    cannot come from the dashboard's per-version cache)."""
    ttfb, full = [], []
    for i in range(loads + 1):
        if before_each is not None:
            before_each()
        c = http.client.HTTPConnection(host, timeout=120)
        t0 = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        t1 = time.perf_counter()
        body = r.read()
        assert r.status == 200, (path, r.status, body[:300])
        c.request("GET", css)
        c.getresponse().read()
        t2 = time.perf_counter()
        c.close()
        if i:  # the first load warms caches (templates compiled, tables opened)
            ttfb.append((t1 - t0) * 1000)
            full.append((t2 - t0) * 1000)
    return ttfb, full


def browser_times(base: str, paths: list[str], loads: int = LOADS) -> dict[str, tuple[float, float]]:
    """{path: (p50 responseStart, p50 loadEventEnd)} in ms from the browser's Navigation Timing."""
    from playwright.sync_api import sync_playwright

    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    out = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=args)
        ctx = b.new_context()
        page = ctx.new_page()
        for path in paths:
            first, load = [], []
            for i in range(loads + 1):
                page.goto(base + path, wait_until="load")
                nav = page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0]; "
                                    "return [n.responseStart - n.startTime, n.loadEventEnd - n.startTime]; }")
                if i:
                    first.append(nav[0])
                    load.append(nav[1])
            out[path] = (statistics.median(first), statistics.median(load))
        b.close()
    return out


def filled_store(cache: Path, n: int) -> Path:
    """A store with n records (imported once; reused while the count matches)."""
    from bench_server import fill

    from memcollab.store.bank import Bank

    store = cache / f"records-{n}"
    if store.exists():
        try:
            have = Bank(store).count("records")
            if n <= have < n + 1000:  # the "after a new record" loads add a few each run
                from memcollab.store.maintain import maintain

                maintain(Bank(store))  # fold those in, as a running server's automatic maintenance does
                print(f"reusing {store} ({have} records, maintained)", flush=True)
                return store
        except Exception:
            pass
        import shutil

        shutil.rmtree(store)
    t0 = time.perf_counter()
    rate = fill(store, n)
    print(f"filled {store}: {n} records in {time.perf_counter() - t0:.1f} s ({rate:.0f} records/s import)",
          flush=True)
    return store


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1k and 10k records")
    ap.add_argument("--sizes", help="comma-separated record counts (default 1000,100000)")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "memcollab-bench-ui"),
                    help="where filled stores are kept between runs")
    ap.add_argument("--no-browser", action="store_true")
    a = ap.parse_args()
    sizes = [int(x) for x in (a.sizes or ("1000,10000" if a.quick else "1000,100000")).split(",")]
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    use_browser = not a.no_browser and Path(CHROMIUM).exists()
    env = {**os.environ, "MEMCOLLAB_EMBEDDINGS": "off"}

    port = free_port()
    floor_proc, floor_host = start([sys.executable, "-c", FLOOR, str(port)], env)
    try:
        f_ttfb, f_full = http_times(floor_host, "/", "/style.css")
        f_browser = browser_times(f"http://{floor_host}", ["/"])["/"] if use_browser else None
    finally:
        floor_proc.terminate()
        floor_proc.wait()
    floor_t, floor_f = statistics.median(f_ttfb), statistics.median(f_full)
    print(f"\nfloor (trivial Starlette page, same uvicorn): ttfb p50 {floor_t:.2f} ms, full load p50 {floor_f:.2f} ms"
          + (f"; browser responseStart {f_browser[0]:.1f} ms, load {f_browser[1]:.1f} ms" if f_browser else ""))

    print(f"\n{'records':>8} {'page':<34} {'ttfb p50':>9} {'p90':>7} {'×floor':>7} {'full p50':>9} {'p90':>7} "
          f"{'×floor':>7}" + ("  browser: first byte / load p50" if use_browser else ""))
    for n in sizes:
        store = filled_store(cache, n)
        from memcollab.store.bank import Bank

        cat = Bank(store).records(limit=1)[0]
        q = {"category": cat.category, "subcategory": cat.subcategory}
        from urllib.parse import urlencode

        pages = ["/", "/records", "/records?" + urlencode(q),
                 "/records/search?" + urlencode({"task": "find the remainder of a prime sequence", **q})]
        bank = Bank(store)
        writes = iter(range(10**9))

        def write() -> None:  # one feedback row: a new table version, as a running server's report would make
            from memcollab.store.models import Feedback

            bank.add_feedback([Feedback(id=f"bench-{time.time_ns()}-{next(writes)}", record_id=cat.id,
                                        helped=True, model="bench")])

        def new_record() -> None:  # a record distilled meanwhile: the record counts and lists are read again
            from memcollab.store.models import Constraint, MemoryRecord

            c = Constraint(when=f"bench case {time.time_ns()}", enforce="check it", avoid="skipping it")
            bank.add_records([MemoryRecord(id=f"r-bench-{time.time_ns()}", category=cat.category,
                                           subcategory=cat.subcategory, constraints=[c], task="bench")])

        proc, host = start([EXE, "ui", "--store", str(store), "--port", "0"], env)
        try:
            results = {p: http_times(host, p, "/static/style.css") for p in pages}
            cold = {p: http_times(host, p, "/static/style.css", before_each=write) for p in pages[:2]}
            fresh = {p: http_times(host, p, "/static/style.css", before_each=new_record) for p in pages[:2]}
            btimes = browser_times(f"http://{host}", pages) if use_browser else {}
        finally:
            proc.terminate()
            proc.wait()
        for label, table in (("", results), (" after feedback", cold), (" after a new record", fresh)):
            for p, (t, f) in table.items():
                line = (f"{n:>8} {(p + label)[:34]:<34} {statistics.median(t):>7.1f}ms {pct(t, .9):>5.1f}ms "
                        f"{statistics.median(t) / floor_t:>6.1f}x {statistics.median(f):>7.1f}ms "
                        f"{pct(f, .9):>5.1f}ms {statistics.median(f) / floor_f:>6.1f}x")
                if not label and p in btimes:
                    line += f"  {btimes[p][0]:.1f} / {btimes[p][1]:.1f} ms"
                print(line, flush=True)
    print("\ntarget: ≤ 200 ms full load at 100k records (p50)")


if __name__ == "__main__":
    main()
