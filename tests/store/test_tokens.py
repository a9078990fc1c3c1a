"""Bearer tokens (store/tokens.py).

Bearer tokens kept in the bank (store/tokens.py), in-process against real LanceDB in a temp dir: names and
scopes checked, only hashes stored, revocation seen by a checker on its next call, last use recorded."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from memcollab.store import tokens as tokens_module
from memcollab.store.bank import Bank
from memcollab.store.tokens import (PREFIX, TokenChecker, add_token, any_tokens, list_tokens, revoke_token, scopes_of, token_hash)


def test_scopes_are_ordered_and_a_token_holds_the_lower_ones():
    assert scopes_of("read") == ["read"]
    assert scopes_of("write") == ["read", "write"]
    assert scopes_of("admin") == ["read", "write", "admin"]


def test_token_hash_is_a_labelled_sha256():
    assert token_hash("mct_x") == "sha256:" + hashlib.sha256(b"mct_x").hexdigest()
    assert token_hash("\ud800") == "sha256:" + hashlib.sha256(b"?").hexdigest()  # a lone surrogate cannot break it


@pytest.mark.parametrize("name", ["", "-lead", "a" * 65, "has space", "semi;colon", "quote'"])
def test_bad_names_are_refused_with_the_rule(bank, name):
    with pytest.raises(ValueError) as e:
        add_token(bank, name, "read")
    assert str(e.value) == ("a token name is 1-64 characters: letters, digits, '.', '_', '-', '@' "
                            "(e.g. the agent or person it is for)")
    assert not any_tokens(bank)


def test_names_at_the_limits_are_accepted(bank):
    for name in ["a", "a" * 64, "ci.agent_1-x@team"]:
        assert add_token(bank, name, "read").startswith("mct_")


def test_bad_scope_and_duplicate_names_are_refused(bank):
    with pytest.raises(ValueError, match=r"^scope must be one of read, write, admin$"):
        add_token(bank, "ci", "owner")
    assert not any_tokens(bank)
    add_token(bank, "ci", "read")
    with pytest.raises(ValueError) as e:
        add_token(bank, "ci", "write")
    assert str(e.value) == "a token named 'ci' exists; revoke it first or pick another name"


def test_only_the_hash_is_stored_and_listing_shows_no_secret(bank):
    before = time.time()
    t = add_token(bank, "ci", "write")
    assert t.startswith("mct_") and len(t) > 40
    rows = bank.table("tokens").search().limit(None).to_list()
    assert [(r["name"], r["hash"], r["scope"], r["last_used"]) for r in rows] == [("ci", token_hash(t), "write", None)]
    assert all(t not in str(v) for v in rows[0].values())
    add_token(bank, "alpha", "admin")
    listed = list_tokens(bank)
    assert [(i.name, i.scope, i.last_used) for i in listed] == [("alpha", "admin", None), ("ci", "write", None)]
    assert before - 5 < listed[1].created_at.timestamp() < time.time() + 5
    assert add_token(bank, "other", "read") != t  # random, not derived from the name


def test_revoke_says_whether_there_was_one(bank):
    assert revoke_token(bank, "ci") is False
    add_token(bank, "ci", "read")
    add_token(bank, "keep", "read")
    assert revoke_token(bank, "ci") is True
    assert [i.name for i in list_tokens(bank)] == ["keep"]
    assert revoke_token(bank, "ci") is False


def test_checker_knows_tokens_and_sees_a_revocation_on_its_next_call(bank, monkeypatch):
    monkeypatch.setattr(TokenChecker, "_touch", lambda self, name: None)
    checker = TokenChecker(bank)
    assert checker.any() is False
    t = add_token(bank, "ci", "write")
    assert checker.any() is True
    assert checker.check(t) == ("ci", "write")
    assert checker.check(t + "x") is None and checker.check("") is None
    revoke_token(bank, "ci")
    assert checker.check(t) is None and checker.any() is False
    assert checker.cheap() is True  # a local store with the tokens table open


def test_last_use_is_written_at_most_once_a_minute(bank, monkeypatch):
    t = add_token(bank, "ci", "read")
    checker = TokenChecker(bank)
    writes = []
    monkeypatch.setattr(TokenChecker, "_write_last_used", lambda self, name: writes.append(name))
    clock = [1000.0]
    monkeypatch.setattr(tokens_module.time, "monotonic", lambda: clock[0])
    checker.check(t)
    checker.check(t)
    clock[0] += tokens_module.LAST_USED_EVERY - 1
    checker.check(t)
    deadline = time.time() + 30
    while len(writes) < 1 and time.time() < deadline:
        time.sleep(0.01)
    assert writes == ["ci"]
    clock[0] += 2
    checker.check(t)
    while len(writes) < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert writes == ["ci", "ci"]


def test_write_last_used_records_the_time_and_never_raises(bank, tmp_path):
    add_token(bank, "ci", "read")
    add_token(bank, "other", "read")
    before = time.time()
    TokenChecker(bank)._write_last_used("ci")
    info, other = list_tokens(bank)
    assert info.last_used is not None and before - 5 < info.last_used.timestamp() < time.time() + 5
    assert other.last_used is None  # only the token that was used

    a_file = tmp_path / "not-a-store"
    a_file.write_text("x")
    TokenChecker(Bank(a_file))._write_last_used("ci")  # the store cannot be opened: logged, not raised


def test_last_use_is_stored_in_utc_whatever_the_local_zone(bank, monkeypatch):
    add_token(bank, "ci", "read")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        TokenChecker(bank)._write_last_used("ci")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    (info,) = list_tokens(bank)
    assert abs(info.last_used.timestamp() - time.time()) < 600


def test_a_token_carries_256_random_bits(bank):
    token = add_token(bank, "ci", "read")
    assert token.startswith(PREFIX)
    assert len(token) == len(PREFIX) + 43  # token_urlsafe(32): 32 bytes, base64url without padding


def test_a_use_a_full_interval_after_the_last_write_is_written(bank, monkeypatch):
    token = add_token(bank, "ci", "read")
    checker = TokenChecker(bank)
    writes: list[str] = []
    monkeypatch.setattr(TokenChecker, "_write_last_used", lambda self, name: writes.append(name))
    clock = [1000.0]
    monkeypatch.setattr(tokens_module.time, "monotonic", lambda: clock[0])
    checker.check(token)
    clock[0] += tokens_module.LAST_USED_EVERY  # exactly one interval later: due again
    checker.check(token)
    deadline = time.time() + 30
    while len(writes) < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert writes == ["ci", "ci"]


def test_the_last_use_is_written_by_a_daemon_thread(bank, monkeypatch):
    """A request never waits for the bookkeeping, and a server that exits does not wait for it either."""
    token = add_token(bank, "ci", "read")
    checker = TokenChecker(bank)
    started, release = threading.Event(), threading.Event()

    def slow_write(self, name):
        started.set()
        release.wait(30)

    monkeypatch.setattr(TokenChecker, "_write_last_used", slow_write)
    try:
        assert checker.check(token) == ("ci", "read")  # returns while the write is still running
        assert started.wait(30)
        (writer,) = [t for t in threading.enumerate() if t.name == "memcollab-token-used"]
        assert writer.daemon is True
    finally:
        release.set()
