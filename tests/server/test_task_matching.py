"""Task matching on the live path (store/task_index.py): a submission that restates a stored task in other words
joins it, so two models' trajectories on it contrast; a near-miss never does; a caller's task_id wins; off is
off. In-memory MCP clients over a real LanceDB store and the real packaged embedding model."""

from __future__ import annotations

import json

import pytest
from conftest import call, memory_client, pairs_written, traj

from memcollab.distill.pairer import Pairer
from memcollab.distill.pairing import store_and_pair
from memcollab.store.bank import Bank
from memcollab.store.cache import caches
from memcollab.store.embed import get_embedder
from memcollab.store.models import TrajectoryIn, task_id_for
from memcollab.store.task_index import TaskIndex, match_counts, unresolved

pytestmark = pytest.mark.anyio

DIVISORS = ("How many positive divisors does 360 have?", "Find the number of positive divisors of 360.")
PALINDROME = ("Implement is_palindrome(s) that returns True when the string s reads the same backwards.",
              "Please write is_palindrome(s): it should return True if s reads the same forwards and backwards.")
APPLES = ("John has four apples and buys 3 more. How many apples does he have now?",
          "If John had 4 apples and bought three more, how many apples would he have?")
# Same template, one anchor changed: each must stay its own task.
NEAR_MISSES = [
    ("How many positive divisors does 360 have?", "How many positive divisors does 350 have?"),
    ("How many positive divisors does 360 have?", "How many positive divisors does three hundred sixty-one have?"),
    ("Implement is_palindrome(s) that returns True when the string s reads the same backwards.",
     "Implement is_anagram(s) that returns True when the string s reads the same backwards."),
    ("Sort the list of integers in ascending order and return it.",
     "Sort the list of integers in descending order and return it."),
    ('Fix the crash when the config key "timeout" is missing.',
     'Fix the crash when the config key "retries" is missing.'),
    ("Return the largest prime factor of 13195.", "Return the smallest prime factor of 13195."),
    ("John has four apples and buys 3 more. How many apples does he have now?",
     "John has five apples and buys 3 more. How many apples does he have now?"),
]


@pytest.fixture(scope="module", autouse=True)
def model_loaded() -> None:
    get_embedder()  # matching runs once the model is loaded; a server loads it in its warm-up


async def _submit_pair(client, a: str, b: str, **kw) -> tuple[dict, dict]:
    ra = await call(client, "submit_trajectory", traj(a, "model-a", "correct", **kw))
    rb = await call(client, "submit_trajectory", traj(b, "model-b", "incorrect", answer="41", **kw))
    await pairs_written(client)
    return ra, rb


def _stored(bank: Bank, trajectory_id: str):
    return bank.get_trajectories([trajectory_id])[trajectory_id]


@pytest.mark.parametrize("texts", [DIVISORS, PALINDROME, APPLES], ids=["math", "code", "number-words"])
async def test_a_paraphrase_joins_the_stored_task_and_forms_a_pair(store, texts):
    async with memory_client(store) as c:
        ra, rb = await _submit_pair(c, *texts)
        bank = Bank(store)
        joined = _stored(bank, rb["trajectory_id"])
        assert joined.task_id == ra["task_id"]
        assert joined.task_match.by == "similar" and joined.task_match.task == ra["task_id"]
        assert 0 < joined.task_match.score <= 1
        assert _stored(bank, ra["trajectory_id"]).task_match.by == "text"
        pairs = bank.pairs()
        assert [(p.preferred_model, p.unpreferred_model, p.task_id) for p in pairs] == [
            ("model-a", "model-b", ra["task_id"])]
        st = await call(c, "memory_status")
        assert st["trajectories_by_task_match"] == {"text": 1, "similar": 1}
        assert st["tasks_joined"] == 1 and st["tasks"] == 1


@pytest.mark.parametrize("a,b", NEAR_MISSES, ids=["number", "number-word", "identifier", "direction", "quoted",
                                                  "extreme", "spelled-number"])
async def test_a_near_miss_is_never_merged(store, a, b):
    async with memory_client(store) as c:
        ra, rb = await _submit_pair(c, a, b)
        bank = Bank(store)
        assert _stored(bank, rb["trajectory_id"]).task_id == task_id_for(b) != ra["task_id"]
        assert bank.pairs() == []
        assert (await call(c, "memory_status"))["tasks_joined"] == 0


async def test_the_callers_task_id_wins_and_its_text_can_be_joined(store):
    async with memory_client(store) as c:
        ra = await call(c, "submit_trajectory", traj(DIVISORS[0], "model-a", "correct", task_id="course-7"))
        rb = await call(c, "submit_trajectory", traj(DIVISORS[1], "model-b", "incorrect", answer="41",
                                                     task_id="course-8"))
        await pairs_written(c)
        bank = Bank(store)
        assert ra["task_id"] == "course-7" and _stored(bank, rb["trajectory_id"]).task_id == "course-8"
        assert _stored(bank, rb["trajectory_id"]).task_match.by == "id"
        assert bank.pairs() == []
        # an untagged paraphrase from a third model joins the caller's task, and contrasts there
        rc = await call(c, "submit_trajectory", traj("What is the count of positive divisors of 360?", "model-c",
                                                     "incorrect", answer="40"))
        await pairs_written(c)
        moved = _stored(bank, rc["trajectory_id"])
        assert moved.task_id == "course-7" and moved.task_match.by == "similar"
        assert {(p.task_id, p.unpreferred_model) for p in bank.pairs()} == {("course-7", "model-c")}


async def test_tags_that_disagree_keep_tasks_apart(store):
    async with memory_client(store) as c:
        ra = await call(c, "submit_trajectory", traj(DIVISORS[0], "model-a", "correct", category="Number Theory"))
        rb = await call(c, "submit_trajectory", traj(DIVISORS[1], "model-b", "incorrect", answer="41",
                                                     category="Geometry"))
        await pairs_written(c)
        assert _stored(Bank(store), rb["trajectory_id"]).task_id != ra["task_id"]
        assert Bank(store).pairs() == []


async def test_matching_off_keeps_tasks_to_exact_texts(store):
    async with memory_client(store, task_match=False) as c:
        ra, rb = await _submit_pair(c, *DIVISORS)
        bank = Bank(store)
        assert _stored(bank, rb["trajectory_id"]).task_id == task_id_for(DIVISORS[1]) != ra["task_id"]
        assert bank.pairs() == [] and bank.count("task_links") == 0


async def test_a_resubmission_of_a_joined_text_goes_to_the_joined_task_once(store):
    async with memory_client(store) as c:
        ra, rb = await _submit_pair(c, *DIVISORS)
        again = await call(c, "submit_trajectory", traj(DIVISORS[1], "model-b", "incorrect", answer="41"))
        assert again["trajectory_id"] == rb["trajectory_id"] and again["stored"] is False
        assert again["task_id"] == ra["task_id"]
        # the same text from another model goes straight to the joined task, recorded as similar
        rd = await call(c, "submit_trajectory", traj(DIVISORS[1], "model-d", "incorrect", answer="12"))
        assert rd["task_id"] == ra["task_id"]
        await pairs_written(c)
        bank = Bank(store)
        assert _stored(bank, rd["trajectory_id"]).task_match.by == "similar"
        assert bank.count("trajectories") == 3
        assert {p.unpreferred_model for p in bank.pairs()} == {"model-b", "model-d"}


async def test_export_carries_the_task_match(store, tmp_path):
    from memcollab.store.transfer import export_jsonl, import_jsonl

    async with memory_client(store) as c:
        await _submit_pair(c, *DIVISORS)
    out = tmp_path / "bank.jsonl"
    with out.open("w") as f:
        export_jsonl(Bank(store), f)
    lines = [json.loads(x) for x in out.read_text().splitlines() if '"trajectory"' in x]
    assert sorted(x["task_match"]["by"] for x in lines) == ["similar", "text"]
    other = Bank(tmp_path / "other")
    import_jsonl(other, out.read_text().splitlines(), progress=lambda _m: None)
    assert match_counts(other) == {"text": 1, "similar": 1}


def test_submissions_before_the_model_has_loaded_are_matched_once_it_has(bank):
    """The server's pairer matches what waited for the model (TaskIndex.wait / take_waiting), as
    Memory.match_when_ready does when the model has loaded."""
    model: list = []
    tasks = TaskIndex(bank, lambda: model[0] if model else None)
    pairer = Pairer(bank, linger=0, tasks=tasks)
    a = TrajectoryIn(**traj(DIVISORS[0], "model-a", "correct")).to_trajectory(record_match=True)
    b = TrajectoryIn(**traj(DIVISORS[1], "model-b", "incorrect", answer="41")).to_trajectory(record_match=True)
    store_and_pair(bank, [a, b], pairer)
    assert pairer.settle(10)
    assert bank.pairs() == [] and len(tasks.take_waiting()) == 2
    tasks.wait([a, b])
    model.append(get_embedder())
    pairer.add((), tasks.take_waiting())
    assert pairer.settle(30)
    assert [p.task_id for p in bank.pairs()] == [a.task_id]
    pairer.close()


def test_a_stopped_servers_unmatched_submissions_are_found(bank):
    """A server stopped before its model loaded leaves submissions whose texts have no row: `unresolved`
    finds them (the next start matches them); those with rows and those that record no match are not."""
    embedder = get_embedder()
    a = TrajectoryIn(**traj(DIVISORS[0], "model-a", "correct")).to_trajectory(record_match=True)
    b = TrajectoryIn(**traj(DIVISORS[1], "model-b", "incorrect", answer="41")).to_trajectory(record_match=True)
    old = TrajectoryIn(**traj("An old import", "model-a", "correct")).to_trajectory()
    bank.table("trajectories")
    caches(bank).add_trajectories([a, b, old])
    assert {t.id for t in unresolved(bank, embedder)} == {a.id, b.id}
    TaskIndex(bank, lambda: embedder).resolve([a])
    assert {t.id for t in unresolved(bank, embedder)} == {b.id}
