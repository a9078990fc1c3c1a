"""Filtered reads on a bank on object storage (moto's local S3, tests/support/s3.py; real LanceDB over
HTTP): counts there are distinct ids (duplicates hidden) and must still honour the filter."""

from __future__ import annotations

import pytest

from memcollab.store.bank import Bank, eq
from memcollab.store.models import TrajectoryIn
from support.s3 import MotoServer


@pytest.fixture(scope="module")
def moto() -> MotoServer:
    server = MotoServer()
    yield server
    server.stop()


def test_a_filtered_count_on_object_storage(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in moto.env().items():
        monkeypatch.setenv(k, v)
    bank = Bank(f"s3://{moto.new_bucket()}/team")
    assert bank.location.remote
    bank.add_trajectories([TrajectoryIn(task=f"task {i}", model="model-a" if i else "model-b", final_answer="1",
                                        outcome="correct").to_trajectory() for i in range(3)])
    tbl = bank.table("trajectories")
    row = tbl.search().where(eq("model", "model-a")).limit(1).to_list()[0]
    tbl.add([{k: v for k, v in row.items() if not k.startswith("_")}])  # a racing duplicate of one id
    assert bank.count("trajectories") == 3
    assert bank.count("trajectories", eq("model", "model-a")) == 2
    assert bank.count("trajectories", eq("model", "model-b")) == 1
    assert bank.count("trajectories", eq("model", "nobody")) == 0
