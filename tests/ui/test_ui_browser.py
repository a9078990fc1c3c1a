"""The web dashboard in a real browser: headless Chromium from Debian's `chromium` package, driven by
Playwright, against real `memcollab ui` processes (uvicorn) over a real LanceDB store filled with known
content. Skipped, and saying so, when /usr/bin/chromium is missing (`.ci/run` installs it).

Screenshots of every page go to $MEMCOLLAB_SCREENSHOTS (default: a temp dir) for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
import warnings
from pathlib import Path

import pytest

from conftest import MEMCOLLAB, call, memory_client, server_env
from memcollab.store.bank import Bank
from support.ui_bank import XSS, eval_dir, fill

CHROMIUM = os.environ.get("MEMCOLLAB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

MISSING = f"browser tests skipped: no Chromium at {CHROMIUM} (Debian: apt-get install -y chromium; .ci/run does it)"
if not Path(CHROMIUM).exists():
    warnings.warn(MISSING, stacklevel=1)  # shown in the summary of a plain `make test`, not only with -rs
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=MISSING)

SEARCHES = [  # (task, category, subcategory, rank)
    ("solve a linear equation with constants on both sides", "Algebra", "Linear Equations", None),
    ("area of a circle from its diameter", "Geometry", None, None),
    ("count the primes below a bound", "Number Theory", "No Such Subcategory", None),
    ("a task about triangles and angles", None, None, None),  # untagged: no embeddings here, so all records
    ("isolate the unknown", "Algebra", "Linear Equations", "hybrid"),  # falls back to bm25 without a model
]


class UI:
    """A `memcollab ui` subprocess on a free port."""

    def __init__(self, store: Path, *flags: str):
        env = server_env(store, MEMCOLLAB_EMBEDDINGS="off")
        self.proc = subprocess.Popen([MEMCOLLAB, "ui", "--port", "0", *flags], env=env, stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 60
        self.base = ""
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()  # type: ignore[union-attr]
            m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            if m:
                self.base = m.group(1)
                break
            if not line and self.proc.poll() is not None:
                break
        assert self.base, "memcollab ui did not start"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def expected_searches(store: Path) -> list[dict]:
    """What get_constraints (the MCP tool, in-memory client) returns for each search."""
    async def go() -> list[dict]:
        out = []
        async with memory_client(store, embeddings=False) as c:
            for task, cat, sub, rank in SEARCHES:
                args = {"task": task, **({"category": cat} if cat else {}), **({"subcategory": sub} if sub else {}),
                        **({"rank": rank} if rank else {})}
                out.append(await call(c, "get_constraints", args))
        return out

    return asyncio.run(go())


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> Path:
    d = Path(os.environ.get("MEMCOLLAB_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    store = root / "store"
    ids = fill(Bank(store))
    return store, ids, eval_dir(root / "eval-run"), expected_searches(store)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    yield pg
    ctx.close()


@pytest.fixture(scope="module")
def readonly_ui(filled):
    store, _ids, evals, _exp = filled
    ui = UI(store, "--eval", str(evals))
    yield ui
    ui.close()


def shot(page, screens: Path, name: str) -> None:
    page.screenshot(path=str(screens / f"{name}.png"), full_page=True)


def test_every_page_renders_the_bank(readonly_ui, filled, page, screens):
    _store, ids, _evals, _exp = filled
    base = readonly_ui.base
    page.goto(base + "/")
    shot(page, screens, "overview")
    cards = page.locator(".cards").inner_text()
    for n, what in ((2, "trajectories"), (1, "tasks"), (1, "contrast pairs"), (4, "memory records"), (2, "models")):
        assert re.search(rf"{n}\s+{what}", cards), (what, cards)
    body = page.locator("main").inner_text()
    assert "copies a number from the task" in body  # the validator's rejection reason
    assert "claude-sonnet" in body and "qwen2.5-7b" in body  # feedback by consuming model
    assert page.locator("svg.bar").count() == 3  # records by category, as a chart

    page.click("text=Records")  # every page is reached by plain links
    shot(page, screens, "records")
    assert page.locator("article.record").count() == 4
    page.select_option("select[name=category]", "Algebra")
    page.click("form.filter button")
    assert page.locator("article.record").count() == 2
    assert "category=Algebra" in page.url

    page.click(f"a[href='/records/{ids['distilled']}']")
    shot(page, screens, "record")
    text = page.locator("main").inner_text()
    for want in ("isolate the unknown by inverse operations", "gpt-4o", "llama-3-8b", "stand-in-distiller",
                 "contrast-v1", ids["pair_id"], "helped 2"):
        assert want in text, want
    assert "Forgetting is off" in text

    page.goto(base + "/tasks")
    shot(page, screens, "tasks")
    page.click(f"a[href='/tasks/{ids['task_id']}']")
    shot(page, screens, "task")
    assert page.locator("article.traj").count() == 2  # side by side
    assert page.locator("article.traj.correct h3").inner_text().startswith("gpt-4o")
    assert page.locator("article.traj.incorrect h3").inner_text().startswith("llama-3-8b")
    assert "divide by 3: x = 5" in page.locator("article.traj.correct").inner_text()
    assert "distilled" in page.locator(f"tr[id='{ids['pair_id']}']").inner_text()
    assert "copies a number" in page.locator("table.rejected").inner_text()
    assert page.locator("article.record").count() == 1

    page.goto(base + "/pairs")
    shot(page, screens, "pairs")
    assert ids["pair_id"] in page.locator("main").inner_text()

    page.goto(base + "/evals")
    shot(page, screens, "evals")
    table = page.locator("table.results").inner_text()
    assert "memcollab" in table and "0.675" in table and "no_memory" in table
    width = page.eval_on_selector("img.chart", "img => img.naturalWidth")
    assert width > 100  # the accuracy chart loaded


def test_search_shows_what_get_constraints_returns(readonly_ui, filled, page, screens):
    _store, _ids, _evals, expected = filled
    for i, ((task, cat, sub, rank), want) in enumerate(zip(SEARCHES, expected, strict=True)):
        page.goto(readonly_ui.base + "/records")
        page.fill("textarea[name=task]", task)
        page.fill("input[name=category]", cat or "")
        page.fill("input[name=subcategory]", sub or "")
        page.select_option("select[name=rank]", rank or "bm25")
        page.click("form.search button")
        if i == 0:
            shot(page, screens, "search")
        got_ids = page.eval_on_selector_all("li.result", "els => els.map(e => e.dataset.recordId)")
        got_scores = page.eval_on_selector_all("li.result", "els => els.map(e => parseFloat(e.dataset.score))")
        assert got_ids == [r["record_id"] for r in want["records"]], task
        assert got_scores == pytest.approx([r["score"] for r in want["records"]]), task
        assert page.locator("dd.match").get_attribute("data-match") == want["match"]
        assert page.locator("dd.classified").get_attribute("data-classified-by") == want["classified_by"]
        assert page.locator("pre.guidance").inner_text() == want["guidance"]


def test_untrusted_text_stays_text(readonly_ui, filled, page):
    _store, ids, _evals, _exp = filled
    for path in ("/", "/records", f"/records/{ids['xss_record']}", f"/tasks/{ids['task_id']}", "/tasks", "/evals",
                 "/records/search?task=" + XSS):
        page.goto(readonly_ui.base + path)
        assert page.locator("img[src='x']").count() == 0, path
        if path != "/":
            assert XSS in page.locator("main").inner_text(), path
    assert page.dialogs == []  # type: ignore[attr-defined]


def _forget_post(page, base: str, record_id: str, form: dict, origin: str | None = None):
    headers = {"Origin": origin or base}
    return page.request.post(f"{base}/records/{record_id}/forget", form=form, headers=headers,
                             max_redirects=0)


def test_forget_is_refused_without_allow_forget(readonly_ui, filled, page):
    store, ids, _evals, _exp = filled
    before = Bank(store).count("records")
    page.goto(f"{readonly_ui.base}/records/{ids['Geometry']}/forget")
    assert page.locator("form.forget button").is_disabled() and "Forgetting is off" in page.locator("main").inner_text()
    # a request that passes every other check (own origin, the session's token, confirmed) is still refused
    token = page.locator("input[name=csrf]").get_attribute("value")
    r = _forget_post(page, readonly_ui.base, ids["Geometry"], {"confirm": "yes", "csrf": token})
    assert r.status == 403 and "forgetting is off: start the dashboard with" in r.text()
    assert Bank(store).count("records") == before


def test_forget_needs_confirmation_session_token_and_origin(tmp_path, browser, screens):
    store = tmp_path / "store"
    ids = fill(Bank(store))
    ui = UI(store, "--allow-forget")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    try:
        every = set(Bank(store).get_records([ids[k] for k in ("distilled", "Algebra", "Geometry",
                                                              "Number Theory")]))
        target = ids["Geometry"]
        page.goto(f"{ui.base}/records/{target}")
        page.click("a.danger")  # the record's page links to the confirmation step
        shot(page, screens, "forget-confirm")
        page.click("form.forget button")  # not ticked
        assert "not confirmed" in page.locator(".error").inner_text()
        assert set(Bank(store).get_records(every)) == every

        token = page.locator("input[name=csrf]").get_attribute("value")
        r = _forget_post(page, ui.base, target, {"confirm": "yes", "csrf": token}, origin="http://evil.example")
        assert r.status == 403 and "evil.example" in r.text()
        r = _forget_post(page, ui.base, target, {"confirm": "yes", "csrf": "0" * 64})
        assert r.status == 403 and "token" in r.text()
        r = page.request.post(f"{ui.base}/records/{target}/forget", form={"confirm": "yes", "csrf": token},
                              headers={"Origin": "null"}, max_redirects=0)
        assert r.status == 403
        assert set(Bank(store).get_records(every)) == every

        page.check("input[name=confirm]")
        page.click("form.forget button")
        page.wait_for_url(re.compile(r"/records\?forgotten="))
        shot(page, screens, "forget-done")
        assert f"Forgot record {target}" in page.locator(".notice").inner_text()
        assert set(Bank(store).get_records(every)) == every - {target}  # exactly that record
        assert Bank(store).count("forgotten", f"value = '{target}'") == 1
        page.goto(f"{ui.base}/records/{target}")
        assert "No such record" in page.locator("h1").inner_text()
    finally:
        ctx.close()
        ui.close()


def test_reads_see_new_data_on_reload(tmp_path, browser):
    from conftest import import_records, record_line

    store = tmp_path / "store"
    bank = Bank(store)
    import_records(bank, [record_line("Algebra", "Quadratics", "t1", ("w one", "enforce one", "avoid one"))])
    ui = UI(store)
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(ui.base + "/records")
        assert page.locator("article.record").count() == 1
        # another process (here: this one) writes while the dashboard is open
        import_records(Bank(store), [record_line("Geometry", "Triangles", "t2", ("w two", "enforce two", "avoid two"))])
        page.reload()
        assert page.locator("article.record").count() == 2
        assert "enforce two" in page.locator("main").inner_text()
    finally:
        ctx.close()
        ui.close()
