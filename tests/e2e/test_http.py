"""`memcollab serve --transport http`: tokens, scopes, provenance, transport checks, SIGTERM — a real server
subprocess on loopback, reached by the Python SDK's Streamable HTTP client."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from memcollab.store.bank import Bank
from memcollab.store.provenance import senders
from memcollab.store.tokens import add_token, list_tokens, revoke_token

from conftest import call, traj
from support.http_server import MEMCOLLAB, http_client, http_server, post, serve_env

pytestmark = pytest.mark.anyio


@pytest.fixture
def tokens(store: Path) -> dict[str, str]:
    bank = Bank(store)
    return {scope: add_token(bank, f"agent-{scope}", scope) for scope in ("read", "write", "admin")}


async def test_tokens_scopes_and_provenance(store: Path, tmp_path: Path, tokens: dict[str, str]) -> None:
    other = tmp_path / "other-store"
    foreign = add_token(Bank(other), "agent-write", "write")  # same name, another store
    bank = Bank(store)
    with http_server(store, tmp_path, MEMCOLLAB_LOG_LEVEL="DEBUG") as srv:
        # 401 before any MCP handling: no token, an unknown one, one from another store
        assert post(srv.url).status_code == 401
        assert post(srv.url, token="mct_not-a-token").status_code == 401
        assert post(srv.url, token=foreign).status_code == 401
        assert post(srv.url, token=tokens["read"]).status_code == 200

        async with http_client(srv.url, tokens["write"]) as w:
            sub = await call(w, "submit_trajectory", traj("What is 6*7?", "model-a", "correct"))
            await call(w, "submit_trajectory", traj("What is 6*7?", "model-b", "incorrect", answer="41"))
        assert senders(bank, "trajectory", sub["trajectory_id"]) == ["agent-write"]
        before = bank.count("trajectories")

        async with http_client(srv.url, tokens["read"]) as r:
            await call(r, "get_constraints", {"task": "What is 6*7?"})
            await call(r, "memory_status")
            assert (await r.read_resource("memcollab://taxonomy")).contents
            refused = await r.call_tool("submit_trajectory", traj("What is 1+1?", "model-c", "correct"))
            assert refused.is_error and "scope 'write'" in refused.content[0].text
            assert "Nothing was changed" in refused.content[0].text
            refused = await r.call_tool("next_contrast", {})
            assert refused.is_error and "scope 'write'" in refused.content[0].text
        assert bank.count("trajectories") == before and bank.count("pairs", "status = 'pending'") == 1

        async with http_client(srv.url, tokens["write"]) as w:
            refused = await w.call_tool("forget", {"model": "model-a"})
            assert refused.is_error and "scope 'admin'" in refused.content[0].text
        assert bank.count("trajectories") == before

        async with http_client(srv.url, tokens["admin"]) as a:
            gone = await call(a, "forget", {"model": "model-b"})
            assert gone["trajectories"] == 1
        assert senders(bank, "forget", "model:model-b") == ["agent-admin"]

        # revoke: refused from the next request on
        async with http_client(srv.url, tokens["write"]) as w:
            await call(w, "memory_status")
            assert revoke_token(bank, "agent-write")
            assert post(srv.url, token=tokens["write"]).status_code == 401
        log = srv.log_text()
    names = [t.name for t in list_tokens(bank)]
    assert names == ["agent-admin", "agent-read"]
    for tok in [*tokens.values(), foreign]:
        assert tok not in log
        assert tok.split("_", 1)[1][:12] not in log


async def test_open_on_loopback_then_closed_and_transport_checks(store: Path, tmp_path: Path) -> None:
    with http_server(store, tmp_path) as srv:
        async with http_client(srv.url) as c:  # no tokens in the store: loopback is open, like stdio
            await call(c, "submit_trajectory", traj("What is 2+3?", "model-a", "correct", answer="5"))
        t = add_token(Bank(store), "first", "read")
        assert post(srv.url).status_code == 401  # the first token closes it, on the next request
        assert post(srv.url, token=t).status_code == 200
        assert post(srv.url, token=t, host="attacker.example").status_code == 421  # DNS rebinding
        assert post(srv.url, token=t, origin="http://attacker.example").status_code == 403
        big = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "x": "' + b"a" * (5 * 1024 * 1024) + b'"}'
        assert post(srv.url, big, token=t).status_code == 413


def test_refuses_non_loopback_without_token(store: Path) -> None:
    out = subprocess.run([MEMCOLLAB, "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "1"],
                         env=serve_env(store), capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "memcollab token add" in out.stderr and "refusing" in out.stderr


def test_token_cli_prints_once_and_lists_without_secret(store: Path) -> None:
    env = serve_env(store)
    made = subprocess.run([MEMCOLLAB, "token", "add", "ci-agent", "--scope", "read"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("mct_") and len(token) > 40
    listed = subprocess.run([MEMCOLLAB, "token", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert "ci-agent" in listed.stdout and "read" in listed.stdout
    assert token not in listed.stdout + listed.stderr and token not in made.stderr
    with pytest.raises(ValueError, match="exists"):
        add_token(Bank(store), "ci-agent", "write")


async def test_sigterm_finishes_in_flight_calls(store: Path, tmp_path: Path) -> None:
    """SIGTERM while submits are in flight: each acknowledged trajectory is in the bank, exit status 0."""
    with http_server(store, tmp_path) as srv:
        acked: list[str] = []

        async def client(i: int) -> None:
            try:
                async with http_client(srv.url) as c:
                    for j in range(200):
                        r = await c.call_tool("submit_trajectory", traj(f"task {i}-{j}", "m", "correct"))
                        if r.is_error:
                            return
                        acked.append(r.structured_content["trajectory_id"])
            except Exception:
                return  # the server stopped accepting connections

        async def stop_soon() -> int:
            while len(acked) < 10:
                await asyncio.sleep(0.05)
            return await asyncio.to_thread(srv.stop)

        results = await asyncio.gather(*(client(i) for i in range(4)), stop_soon())
        assert results[-1] == 0
    assert acked and set(acked) <= {t.id for t in Bank(store).trajectories()}


async def test_every_tool_has_a_scope() -> None:
    from memcollab.server.app import create_server
    from memcollab.server.http import TOOL_SCOPE
    from memcollab.server.settings import Settings

    server = create_server(Settings(store=Path("/nonexistent"), warm_up=False))
    assert {t.name for t in await server.list_tools()} == set(TOOL_SCOPE)


def test_token_lookups_skip_the_worker_thread_only_where_they_cost_a_stat(tmp_path: Path) -> None:
    from memcollab.store.tokens import TokenChecker

    bank = Bank(tmp_path / "s")
    checker = TokenChecker(bank)
    assert not checker.cheap()  # the store is not open yet: opening it may take seconds
    token = add_token(bank, "agent", "read")
    assert checker.cheap() and checker.check(token) == ("agent", "read")
    remote = TokenChecker(Bank("s3://bucket/bank"))
    remote.bank._tables.update(bank._tables)  # as if open: an object store's version check is a request
    assert not remote.cheap()
