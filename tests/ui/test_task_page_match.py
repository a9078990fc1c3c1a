"""The dashboard's task page shows how each trajectory's task was found, and a joined trajectory's own
wording (store/task_index.py). A real store filled through the in-memory MCP server; the page through
Starlette's test client."""

from __future__ import annotations

import html
import re

import pytest
from conftest import call, memory_client, pairs_written, traj
from starlette.testclient import TestClient

from memcollab.store.embed import get_embedder
from memcollab.ui.app import UIConfig, create_app

ASKED = "How many positive divisors does 360 have?"
REWORDED = "Find the number of positive divisors of 360."


@pytest.mark.anyio
async def test_the_task_page_shows_the_match_and_the_joined_wording(store):
    get_embedder()
    async with memory_client(store) as c:
        a = await call(c, "submit_trajectory", traj(ASKED, "model-a", "correct"))
        await call(c, "submit_trajectory", traj(REWORDED, "model-b", "incorrect", answer="41"))
        await pairs_written(c)
    page = TestClient(create_app(UIConfig(store=store, embeddings=False)), base_url="http://127.0.0.1").get(
        f"/tasks/{a['task_id']}")
    assert page.status_code == 200
    text = html.unescape(re.sub(r"<[^>]+>", "", page.text))
    assert text.count("task found by") == 2
    assert "task found by similar (0." in text and "task found by text" in text
    assert "the task in its own words:" in text and REWORDED in text
