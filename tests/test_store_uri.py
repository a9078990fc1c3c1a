"""An object-store URI without a bucket is refused with a clear error (no store opened)."""

from __future__ import annotations

import pytest

from memcollab.store.location import StoreLocation


@pytest.mark.parametrize("uri", ["s3://", "s3:///", "s3:///prefix/below", "gs://", "az:///x"])
def test_a_uri_without_a_bucket_is_refused_with_a_clear_error(uri):
    with pytest.raises(ValueError, match="names no bucket; use e.g. s3://BUCKET/PREFIX"):
        StoreLocation.parse(uri)


def test_a_bucket_and_prefix_are_kept():
    loc = StoreLocation.parse("s3://bucket/some/prefix/")
    assert loc.remote and loc.uri == "s3://bucket/some/prefix"
