"""A bank on object storage: servers on one S3 store lose nothing and no reader sees anything twice.

S3 is moto's local server (tests/support/s3.py), reached by LanceDB over real HTTP; the memcollab servers
are real `serve --transport http` subprocesses. Nothing here may rest on what is local to one process: the
servers share no directory and no lock, only the bucket.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import call, traj
from memcollab.store.bank import Bank
from memcollab.store.lease import Lease
from memcollab.store.location import StoreLocation, storage_options
from memcollab.store.maintain import maintain
from memcollab.store.models import TrajectoryIn
from memcollab.store.tokens import add_token, revoke_token
from support.http_server import MEMCOLLAB, http_client, http_server, post, serve_env
from support.s3 import MotoServer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def moto() -> MotoServer:
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def s3_store(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket per test; the AWS variables set for this process and inherited by subprocesses."""
    for k, v in moto.env().items():
        monkeypatch.setenv(k, v)
    return f"s3://{moto.new_bucket()}/team"


def test_location_parsing() -> None:
    loc = StoreLocation.parse("s3://bucket/some/prefix/")
    assert loc.remote and loc.uri == "s3://bucket/some/prefix" and loc.path is None
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9000"}
    assert storage_options("s3://b/p", env) == {"aws_access_key_id": "k", "aws_secret_access_key": "s",
                                                "aws_region": "eu-west-1", "aws_endpoint": "http://127.0.0.1:9000",
                                                "allow_http": "true"}
    assert "allow_http" not in storage_options("s3://b/p", {**env, "AWS_ENDPOINT_URL": "https://s3.example"})
    assert storage_options("az://c/p", {"AZURE_STORAGE_ACCOUNT_NAME": "acct"}) == {"account_name": "acct"}
    assert not StoreLocation.parse("/tmp/x").remote
    with pytest.raises(ValueError, match="no bucket"):
        StoreLocation.parse("s3:///prefix")


def test_duplicates_hidden_on_read_and_removed_by_maintenance(s3_store: str) -> None:
    """The race no lock prevents on object storage — two servers appending one new id at once — simulated
    by appending a second copy of a row: every read shows it once, maintenance deletes the copy."""
    from memcollab.server.tools.submit_trajectory import submit

    bank = Bank(s3_store)
    for model, outcome in (("model-a", "correct"), ("model-b", "incorrect")):
        submit(bank, TrajectoryIn(task="What is 6*7?", model=model, final_answer="42", outcome=outcome))
    tbl = bank.table("trajectories")
    row = tbl.search().limit(1).to_list()[0]
    tbl.add([{k: v for k, v in row.items() if not k.startswith("_")}])
    assert tbl.count_rows() == 3
    assert bank.count("trajectories") == 2 and len(bank.trajectories()) == 2
    assert sum(bank.counter("trajectories", "model").values()) == 2
    assert Counter(kind for kind, _ in bank.iter_all())["trajectory"] == 2
    report = maintain(bank)
    assert report["duplicates_removed"]["trajectories"] == 1
    assert tbl.count_rows() == 2 and bank.count("pairs") == 1


def test_lease_one_holder_expiry_and_release(s3_store: str) -> None:
    bank = Bank(s3_store)
    a, b = Lease(bank, "maintain", timedelta(seconds=2)), Lease(bank, "maintain", timedelta(seconds=2))
    assert a.acquire() and not b.acquire()
    assert a.renew()
    time.sleep(2.5)  # a died without releasing: its lease expires
    assert b.acquire() and not a.renew()
    b.release()
    assert a.acquire()


LEASE_RACER = """
import sys, time
from datetime import timedelta
from memcollab.store.bank import Bank
from memcollab.store.lease import Lease
bank = Bank(sys.argv[1]); bank.connect()
lease = Lease(bank, "race", timedelta(minutes=5))
while time.time() < float(sys.argv[2]):
    time.sleep(0.01)
print("won" if lease.acquire() else "lost")
"""


@pytest.mark.slow
def test_lease_race_between_processes(s3_store: str, tmp_path: Path) -> None:
    """Four processes (spawned, not forked) take one lease at the same moment: exactly one wins."""
    script = tmp_path / "racer.py"
    script.write_text(LEASE_RACER)
    Bank(s3_store).connect()
    start = time.time() + 20
    procs = [subprocess.Popen([sys.executable, str(script), s3_store, str(start)], stdout=subprocess.PIPE,
                              text=True) for _ in range(4)]
    outcomes = sorted(p.communicate(timeout=180)[0].strip() for p in procs)
    assert outcomes == ["lost", "lost", "lost", "won"]


async def _submit_all(url: str, token: str, items: list[dict]) -> list[dict]:
    async with http_client(url, token) as c:
        return [await call(c, "submit_trajectory", t) for t in items]


async def run_team(s3_store: str, tmp_path: Path, clients: int, per_client: int, races: int,
                   then_maintain: bool = False) -> None:
    token = add_token(Bank(s3_store), "team-agent", "write")
    # --stateless: the shape for several servers behind one load balancer
    with http_server(s3_store, tmp_path, "--stateless") as a, http_server(s3_store, tmp_path, "--stateless") as b:
        jobs = []
        # the same task solved by two models, each trajectory arriving at a different server at once
        for i in range(races):
            jobs.append(_submit_all(a.url, token, [traj(f"race task {i}", "model-a", "correct")]))
            jobs.append(_submit_all(b.url, token, [traj(f"race task {i}", "model-b", "incorrect", answer="41")]))
        # one trajectory sent through both servers at once
        for i in range(races):
            same = traj(f"twice task {i}", "model-c", "correct")
            jobs += [_submit_all(a.url, token, [same]), _submit_all(b.url, token, [same])]
        # independent agents on each server
        for srv in (a, b):
            for c in range(clients):
                jobs.append(_submit_all(srv.url, token, [traj(f"task {srv.port}-{c}-{k}", f"model-{c}", "correct")
                                                         for k in range(per_client)]))
        await asyncio.gather(*jobs)
        expected = 2 * races + races + 2 * clients * per_client

        bank = Bank(s3_store)
        ids = [t.id for t in bank.trajectories()]
        assert len(ids) == len(set(ids)) == expected
        deadline = time.monotonic() + 60  # each race's pair exists within seconds
        while bank.count("pairs") < races and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        pairs = bank.pairs()
        assert len(pairs) == len({p.id for p in pairs}) == races
        assert {p.task_id for p in pairs} == {t.task_id for t in bank.trajectories() if t.task.startswith("race")}

        for srv in (a, b):  # each server sees the others' writes, each once
            async with http_client(srv.url, token) as c:
                st = await call(c, "memory_status")
                assert st["trajectories"] == expected and sum(st["pairs_by_status"].values()) == races

        if then_maintain:  # racing duplicates (if any) leave the table too
            maintain(bank)
            assert bank.table("trajectories").count_rows() == expected

        revoke_token(bank, "team-agent")  # on one store: refused by both servers from the next request
        assert post(a.url, token=token).status_code == 401 and post(b.url, token=token).status_code == 401


async def test_two_servers_one_bucket(s3_store: str, tmp_path: Path) -> None:
    await run_team(s3_store, tmp_path, clients=2, per_client=2, races=2)


@pytest.mark.slow
async def test_two_servers_one_bucket_many_clients(s3_store: str, tmp_path: Path) -> None:
    await run_team(s3_store, tmp_path, clients=6, per_client=10, races=10, then_maintain=True)


def test_cli_takes_the_store_from_the_environment(s3_store: str) -> None:
    env = serve_env(s3_store)
    made = subprocess.run([MEMCOLLAB, "token", "add", "ci", "--scope", "read"], env=env, capture_output=True,
                          text=True, timeout=180)
    assert made.returncode == 0, made.stderr
    status = subprocess.run([MEMCOLLAB, "status", "--json"], env=env, capture_output=True, text=True, timeout=180)
    assert status.returncode == 0 and s3_store in status.stdout
    assert made.stdout.strip() not in status.stdout
