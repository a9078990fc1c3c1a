"""The hot path (issue 9): per-process caches that another process's writes invalidate, one-append submits
shared by concurrent callers (group commit), τ+ re-pointed to a stronger correct trajectory, and no blind
spot for untagged queries while vectors are missing. Real LanceDB in temp dirs, real stdio servers."""

from __future__ import annotations

import threading

import anyio
import pytest

from conftest import (call, call_error, import_records, memory_client, pairs_written, record_line, stdio_client,
                      traj)
from memcollab.distill.pairing import store_and_pair
from memcollab.server.tools.report_feedback import FeedbackIn, report
from memcollab.store.bank import Bank
from memcollab.store.cache import caches
from memcollab.store.forget import forget
from memcollab.store.group_commit import GroupCommit
from memcollab.store.models import TrajectoryIn

C1 = ("a circle is given", "square the radius before multiplying", "using the diameter as the radius")
C2 = ("a circle is given", "keep pi symbolic until the end", "rounding pi early")
C3 = ("a triangle is given", "check the triangle inequality", "assuming any three sides form one")


def _ids(result: dict) -> list[str]:
    return [r["record_id"] for r in result["records"]]


@pytest.mark.anyio
async def test_another_process_sees_records_feedback_forget_and_trajectories_on_its_next_call(store):
    """Process B (a real `memcollab serve`) answers from its caches; every write by process A (this test
    process) must show in B's very next call."""
    bank = Bank(store)
    import_records(bank, [record_line("Geometry", "Circles", "Find the area of a circle of radius 3.", C1)])
    q = {"task": "area of a circle with radius 5", "category": "Geometry", "subcategory": "Circles"}
    async with stdio_client(store, MEMCOLLAB_EMBEDDINGS="off", MEMCOLLAB_AUTO_MAINTAIN="0") as b:
        first = await call(b, "get_constraints", q)
        assert len(first["records"]) == 1
        assert _ids(first) == _ids(await call(b, "get_constraints", q))  # answered from B's cache

        # A adds a record to the same tag: B's next call has it
        import_records(bank, [record_line("Geometry", "Circles", "A circle has radius 2; what is its area?", C2)])
        second = await call(b, "get_constraints", q)
        assert len(second["records"]) == 2 and set(_ids(first)) < set(_ids(second))

        # A reports the top record unhelpful (often): B's next ranking puts the other one first
        top, other = _ids(second)
        for _ in range(6):
            report(bank, FeedbackIn(record_ids=[top], helped=False, model="a"))
        assert _ids(await call(b, "get_constraints", q)) == [other, top]

        # A forgets a record: B's next call no longer returns it
        forget(bank, record_id=other)
        assert _ids(await call(b, "get_constraints", q)) == [top]

        # Trajectories: B pairs with A's trajectory, knows A's id, and refuses what A forgot
        a_traj = TrajectoryIn(**traj("Cross-process task", "model-a", "incorrect", "4")).to_trajectory()
        store_and_pair(bank, [a_traj])
        r = await call(b, "submit_trajectory", traj("Cross-process task", "model-b", "correct", "5"))
        assert r["stored"] and r["pending_pairs"] == 1
        again = await call(b, "submit_trajectory", traj("Cross-process task", "model-a", "incorrect", "4"))
        assert again["trajectory_id"] == a_traj.id and again["stored"] is False
        forget(bank, model="model-a")
        err = await call_error(b, "submit_trajectory", traj("Cross-process task", "model-a", "incorrect", "4"))
        assert "forget" in err
    assert bank.count("trajectories") == 1  # model-b's; model-a's forgotten one was not stored again


@pytest.mark.anyio
async def test_a_pending_pair_is_repointed_to_a_stronger_correct_trajectory(store, monkeypatch):
    """τ+ is the strongest model that was correct, also when the stronger one arrives after the pair exists;
    a distilled pair stays as it was."""
    monkeypatch.setenv("MEMCOLLAB_MODEL_RANKING", "best,strong,mid")
    task = "Repoint task: how many edges does a cube have?"
    async with memory_client(store, embeddings=False) as c:
        mid = await call(c, "submit_trajectory", traj(task, "mid", "correct", "12"))
        await call(c, "submit_trajectory", traj(task, "weak", "incorrect", "8"))
        await pairs_written(c)
        (pair,) = Bank(store).pairs()
        assert pair.preferred_id == mid["trajectory_id"] and pair.status == "pending"

        strong = await call(c, "submit_trajectory", traj(task, "strong", "correct", "12"))
        await pairs_written(c)
        assert strong["pending_pairs"] == 1
        (pair,) = Bank(store).pairs()
        assert (pair.preferred_id, pair.preferred_model) == (strong["trajectory_id"], "strong")
        assert pair.unpreferred_model == "weak"

        Bank(store).set_pair(pair.id, status="distilled", attempts=1, record_ids=["r-x"])
        best = await call(c, "submit_trajectory", traj(task, "best", "correct", "12"))
        await pairs_written(c)
        assert best["pending_pairs"] == 0
        (kept,) = Bank(store).pairs()
        assert kept.preferred_model == "strong" and kept.status == "distilled"  # a distilled pair stays

        # a new incorrect trajectory gets the strongest correct one at once
        r = await call(c, "submit_trajectory", traj(task, "other-weak", "incorrect", "6"))
        await pairs_written(c)
        assert r["pending_pairs"] == 1
        new = next(p for p in Bank(store).pairs() if p.unpreferred_model == "other-weak")
        assert (new.preferred_id, new.preferred_model) == (best["trajectory_id"], "best")


async def _until(cond, what: str, seconds: float = 30) -> None:
    with anyio.move_on_after(seconds):
        while not cond():
            await anyio.sleep(0.005)
    assert cond(), f"timed out waiting for {what}"


@pytest.mark.anyio
async def test_group_commit_puts_writes_that_arrive_together_into_one_commit():
    batches: list[list[int]] = []
    release = threading.Event()

    def write(items: list[int]) -> list[int]:  # runs in a worker thread
        if not batches:
            release.wait(30)  # the first commit is "in flight" while the others arrive
        batches.append(items)
        return [i * 10 for i in items]

    gc = GroupCommit(write)
    results: dict[int, int] = {}

    async def caller(i: int) -> None:
        results[i] = await gc.submit(i)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(caller, 0)
            await _until(lambda: gc._committing and not gc._queue, "the first commit")
            for i in range(1, 8):
                tg.start_soon(caller, i)
            await _until(lambda: len(gc._queue) == 7, "seven queued")
            release.set()
    assert results == {i: i * 10 for i in range(8)}  # each caller got its own result
    assert batches == [[0], list(range(1, 8))]  # the seven that arrived during the first commit shared one


@pytest.mark.anyio
async def test_a_lingering_commit_waits_for_the_writes_in_flight_and_goes_as_soon_as_they_are_in():
    """The first commit ends with three writes in flight (its own and two queued): the next committer lingers
    for three. It must go as soon as the third arrives, not wait out its linger (two minutes here); and a
    caller in sequence does not linger at all."""
    batches: list[list[str]] = []
    release = threading.Event()

    def write(items: list[str]) -> list[str]:
        if not batches:
            release.wait(30)
        batches.append(sorted(items))
        return items

    gc = GroupCommit(write, linger=120)
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(gc.submit, "A")
            await _until(lambda: gc._committing and not gc._queue, "the first commit")
            tg.start_soon(gc.submit, "B")
            tg.start_soon(gc.submit, "C")
            await _until(lambda: len(gc._queue) == 2, "two queued")
            release.set()
            await _until(lambda: gc._arrived is not None, "the next committer lingering")
            assert batches == [["A"]]
            tg.start_soon(gc.submit, "D")
        assert batches == [["A"], ["B", "C", "D"]]
        async with anyio.create_task_group() as tg:  # three in flight again: E lingers for F and G only
            for name in "EFG":
                tg.start_soon(gc.submit, name)
        assert batches[2:] == [["E", "F", "G"]]
    solo = GroupCommit(write, linger=120)
    with anyio.fail_after(60):
        for name in "HIJ":  # one caller in sequence: each commit ends with only its own write in flight
            assert await solo.submit(name) == name
    assert batches[3:] == [["H"], ["I"], ["J"]]


@pytest.mark.anyio
async def test_group_commit_fails_every_caller_of_a_failed_batch():
    def write(items: list[int]) -> list[int]:
        raise OSError("disk full")

    gc = GroupCommit(write)
    with pytest.raises(OSError, match="disk full"):
        await gc.submit(1)
    assert gc._queue == [] and not gc._committing


@pytest.mark.anyio
async def test_a_cancelled_caller_still_has_its_write_committed_and_the_queue_goes_on():
    """A request cancelled while its write waits behind a commit in flight: the write is committed anyway,
    and when the cancelled caller was the one due to commit next, the writes behind it are not stranded."""
    written: list[int] = []
    release = threading.Event()

    def write(items: list[int]) -> list[int]:
        if not written:
            release.wait(30)
        written.extend(items)
        return items

    gc = GroupCommit(write, linger=0)
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(gc.submit, 1)
            await _until(lambda: gc._committing and not gc._queue, "the first commit")
            doomed = anyio.CancelScope()

            async def cancelled_caller() -> None:
                with doomed:
                    await gc.submit(2)

            tg.start_soon(cancelled_caller)
            await _until(lambda: len(gc._queue) == 1, "2 queued")
            doomed.cancel()  # 2 is the oldest queued: the one due to commit next
            tg.start_soon(gc.submit, 3)
            await _until(lambda: len(gc._queue) == 2, "3 queued behind it")
            release.set()
        assert sorted(written) == [1, 2, 3]
        assert gc._queue == [] and not gc._committing
        assert await gc.submit(4) == 4


@pytest.mark.anyio
async def test_concurrent_submits_in_one_server_share_appends_and_lose_nothing(store):
    bank = Bank(store)
    bank.table("trajectories")
    before = bank.table("trajectories").version
    n = 24
    results: list[dict] = []
    async with memory_client(store, embeddings=False) as c:
        async def one(i: int) -> None:
            results.append(await call(c, "submit_trajectory", traj(f"Concurrent task {i // 2}", f"m{i % 2}",
                                                                    "correct" if i % 2 else "incorrect", str(i))))

        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(one, i)
    ids = bank.table("trajectories").to_arrow().column("id").to_pylist()
    assert len(ids) == len(set(ids)) == n and set(ids) == {r["trajectory_id"] for r in results}
    assert all(r["stored"] for r in results)
    assert bank.count("pairs") == n // 2
    assert bank.table("trajectories").version - before <= n  # never more than one append per submission


def test_caches_reload_only_when_the_version_moves(bank):
    import_records(bank, [record_line("Geometry", "Circles", "circle area", C1)])
    c = caches(bank)
    tag = c.tag(("subcategory", "Geometry", "Circles"))
    assert c.tag(("subcategory", "Geometry", "Circles")) is tag  # same version: the same object, no read
    import_records(bank, [record_line("Geometry", "Triangles", "triangle sides", C3)])
    again = c.tag(("subcategory", "Geometry", "Circles"))
    assert again is not tag and [r.id for r in again.records] == [r.id for r in tag.records]


def _pair_of(task: str) -> list:
    return [TrajectoryIn(**traj(task, "good-model", "correct")).to_trajectory(),
            TrajectoryIn(**traj(task, "bad-model", "incorrect", answer="7")).to_trajectory()]


def test_a_submission_is_not_held_up_by_a_pairing_waiting_for_the_pairs_lock(bank):
    """Pairing takes only the pairs insert lock (no bank-wide lock), so a pairing waiting for it — here held as
    another process would hold it — does not stop this process's submissions."""
    from memcollab.distill.pairer import Pairer
    from memcollab.distill.pairing import pair_task
    from memcollab.store.location import FlockLock

    first = _pair_of("Waiting pairing: solve for x.")
    bank.add_trajectories(first)
    later = _pair_of("Another task: solve for y.")
    pairer, done = Pairer(bank, linger=0), threading.Event()
    try:
        with FlockLock(bank.location.path / ".insert-pairs.lock"):
            waiting = threading.Thread(target=lambda: (pair_task(bank, first[0].task_id), done.set()), daemon=True)
            waiting.start()
            assert not done.wait(0.5)  # the pairing waits for the lock
            submitted: list = []
            t = threading.Thread(target=lambda: submitted.extend(store_and_pair(bank, later, pairer)), daemon=True)
            t.start()
            t.join(60)
            assert [s.stored for s in submitted] == [True, True] and not done.is_set()
            assert [s.pending_pairs for s in submitted] == [1, 1]  # counted from the caches, pair not written yet
        assert done.wait(60)
        assert pairer.settle(60) and bank.count("pairs") == 2
    finally:
        pairer.close()


@pytest.mark.parametrize("case", ["trajectories", "pairs", "repoint"])
def test_a_reader_never_sees_a_new_version_before_the_writer_updated_the_cache(bank, monkeypatch, case):
    """The cache's lock is held across the write (an append, or the update that re-points a pair) and the
    in-place cache update: a reader in another thread waits for both, then finds the cache current (no reload).
    Were the version visible in between, the reader would drop and reload the cache, and the writer's update
    would drop it again."""
    from memcollab.distill.pairing import pairs_for

    bank.connect()
    c = caches(bank)
    ts = _pair_of(f"Atomic {case} write: solve for z.")
    task = ts[0].task_id
    table = "trajectories" if case == "trajectories" else "pairs"
    c.add_trajectories(ts[:1])
    if case == "trajectories":
        write, read, want = (lambda: c.add_trajectories(ts[1:])), c.task_trajectories, {t.id for t in ts}
        loader = "_load_task_trajectories"
    else:
        c.add_trajectories(ts[1:])
        pairs = pairs_for(ts)
        write, read, want = (lambda: c.add_pairs(pairs)), c.task_pairs, {p.id for p in pairs}
        loader = "_load_task_pairs"
        if case == "repoint":
            c.add_pairs(pairs)
            write = lambda: c.repoint_pairs([pairs[0].id], "t-stronger", "stronger-model")
    read([task])
    target, method = (bank.table("pairs"), "update") if case == "repoint" else (bank.appender(table), "add")
    written, release = threading.Event(), threading.Event()
    real_write = getattr(target, method)

    def write_then_pause(*a, **kw):  # the real write, then a pause before the writer updates its cache
        out = real_write(*a, **kw)
        written.set()
        release.wait(60)
        return out

    monkeypatch.setattr(target, method, write_then_pause)
    loads: list[list[str]] = []
    real_load = getattr(c, loader)
    monkeypatch.setattr(c, loader, lambda ids: loads.append(ids) or real_load(ids))
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert written.wait(60)
    seen: list = []
    reader = threading.Thread(target=lambda: seen.append(read([task])), daemon=True)
    reader.start()
    reader.join(0.5)
    assert reader.is_alive()  # waiting for the writer's update, not reading the new version on its own
    release.set()
    writer.join(60)
    reader.join(60)
    version, by_task = seen[0]
    assert {getattr(x, "id", x) for x in by_task[task]} == want
    assert version == int(bank.table(table).version) and loads == []
    if case == "repoint":
        assert by_task[task][pairs[0].id].preferred_model == "stronger-model"
