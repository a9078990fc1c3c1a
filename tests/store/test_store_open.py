"""Opening a store (real LanceDB in temp dirs): what stops it is said plainly, and schema versions are checked
(an older store is upgraded in place, a newer one refused)."""

from __future__ import annotations

from datetime import timedelta

import lancedb
import pyarrow as pa
import pytest

from memcollab.store.bank import Bank, SchemaTooNew, StoreUnavailable, _schemas, store_problem
from memcollab.store.models import SCHEMA_VERSION


def test_store_problem_says_what_is_wrong_and_how_to_fix_it(tmp_path):
    a_file = tmp_path / "f"
    a_file.write_text("x")
    fix = "pass --store DIR or set MEMCOLLAB_STORE to a directory"
    assert store_problem(a_file) == f"store {a_file} is a file, not a directory; {fix}"
    under = a_file / "sub" / "store"
    assert store_problem(under) == f"store {under} cannot be created because {a_file} is a file; {fix}"
    assert store_problem(tmp_path) is None  # an existing directory
    assert store_problem(tmp_path / "new" / "store") is None  # created on first use
    assert store_problem("s3://bucket/team") is None  # object storage: the first call says what is wrong
    with pytest.raises(StoreUnavailable, match="is a file, not a directory"):
        Bank(a_file).connect()


def _meta(path, version: str) -> lancedb.DBConnection:
    db = lancedb.connect(str(path), read_consistency_interval=timedelta(0))
    db.create_table("meta", schema=_schemas()["meta"]).add([{"key": "schema_version", "value": version}])
    return db


def test_a_new_store_records_its_schema_version_once(tmp_path):
    bank = Bank(tmp_path / "s")
    bank.connect()
    Bank(tmp_path / "s").connect()
    rows = bank.table("meta").search().limit(None).to_list()
    assert [(r["key"], r["value"]) for r in rows] == [("schema_version", str(SCHEMA_VERSION))]


def test_a_newer_store_is_refused_with_the_upgrade_hint(tmp_path):
    _meta(tmp_path / "s", str(SCHEMA_VERSION + 1))
    with pytest.raises(SchemaTooNew) as e:
        Bank(tmp_path / "s").connect()
    assert str(e.value) == (f"store {tmp_path / 's'} has schema version {SCHEMA_VERSION + 1}; this memcollab "
                            f"understands {SCHEMA_VERSION}. Upgrade memcollab.")
    assert isinstance(e.value, StoreUnavailable)


def test_an_older_store_gains_the_new_columns_and_its_version(tmp_path):
    db = _meta(tmp_path / "s", str(SCHEMA_VERSION - 1))
    db.create_table("records", schema=pa.schema([f for f in _schemas()["records"] if f.name != "outcome_sources"]))
    bank = Bank(tmp_path / "s")
    bank.connect()
    assert "outcome_sources" in db.open_table("records").schema.names
    assert [r["value"] for r in db.open_table("meta").search().limit(None).to_list()] == [str(SCHEMA_VERSION)]
