"""Leases (store/lease.py)."""

from __future__ import annotations

from datetime import timedelta

from memcollab.store.lease import Lease


def test_a_lease_is_held_by_its_holder_only_and_free_after_release(bank):
    a, b = Lease(bank, "maintain", timedelta(minutes=5)), Lease(bank, "maintain", timedelta(minutes=5))
    assert a.acquire() is True
    assert a.held() is True
    assert b.held() is False  # the row exists and is live, but it is a's
    assert b.acquire() is False
    a.release()
    assert a.held() is False
    assert b.acquire() is True and b.held() is True and a.held() is False
