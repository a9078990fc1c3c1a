"""Pieces of store/ called directly: object-store options from the environment, the in-memory vector index,
the status counts, a user taxonomy file (real LanceDB in temp dirs where a store is involved)."""

from __future__ import annotations

import json

import numpy as np

from memcollab.store.location import storage_options
from memcollab.store.models import ConstraintVerdict
from memcollab.store.status import bank_status
from memcollab.store.taxonomy import load_taxonomy
from memcollab.store.vectors import VectorIndex


def test_storage_options_take_the_first_variable_set_for_each_option():
    env = {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://localhost:9000",
           "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    assert storage_options("s3://b/x", env) == {"aws_access_key_id": "k", "aws_secret_access_key": "s",
                                                "aws_region": "eu-west-1", "aws_endpoint": "http://localhost:9000",
                                                "allow_http": "true"}
    assert storage_options("S3://b/x", {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "eu-west-1",
                                        "AWS_ENDPOINT_URL_S3": "https://s3.example",
                                        "AWS_ENDPOINT_URL": "http://other"}) == {
        "aws_region": "us-east-1", "aws_endpoint": "https://s3.example"}
    assert storage_options("az://c/x", {"AZURE_STORAGE_ACCOUNT_NAME": "acct", "AZURE_STORAGE_ACCOUNT_KEY": "key"}) == {
        "account_name": "acct", "account_key": "key"}
    assert storage_options("gs://b/x", {"GOOGLE_APPLICATION_CREDENTIALS": "/k.json"}) == {
        "google_service_account": "/k.json"}
    assert storage_options("file:///x", env) == {}


def test_vector_index_searches_inside_a_group_and_finds_nothing_in_an_empty_one():
    index = VectorIndex(2)
    rows = [{"id": "v1", "kind": "record", "ref_id": "r1", "category": "math", "subcategory": "algebra"},
            {"id": "v2", "kind": "record", "ref_id": "r2", "category": "code", "subcategory": None},
            {"id": "v3", "kind": "trajectory", "ref_id": "t1", "category": "math", "subcategory": "algebra"}]
    index.extend(rows, np.array([[1, 0], [0, 1], [0.6, 0.8]]))
    assert index.records == 2 and index.ids == {"v1", "v2", "v3"}
    q = np.array([1.0, 0.0], dtype=np.float32)
    assert [(r["id"], round(s, 2)) for r, s in index.search(q, 5)] == [("v1", 1.0), ("v3", 0.6), ("v2", 0.0)]
    assert [r["id"] for r, _ in index.search(q, 5, kind="record")] == ["v1", "v2"]
    assert [r["id"] for r, _ in index.search(q, 5, kind="record", category="code")] == ["v2"]
    assert index.search(q, 5, kind="record", category="history") == []  # no such group
    assert index.search(q, 5, kind="record", category="math", subcategory="geometry") == []
    assert [r["subcategory"] for r, _ in index.search(q, 1, kind="record", category="code")] == [""]


def test_status_counts_verdicts_and_says_when_embeddings_are_off(bank):
    verdicts = [("stored", ""), ("rejected", "names a model (gpt)"), ("rejected", "names a model (claude)"),
                ("merged", "")]
    bank.add_verdicts([ConstraintVerdict(id=f"v{i}", pair_id="p1", verdict=v, reason=r, text=f"t{i}", distiller="d")
                       for i, (v, r) in enumerate(verdicts)])
    st = bank_status(bank, embeddings=False)
    assert st.embedding_model == "off"
    assert st.constraints_by_verdict == {"stored": 1, "rejected": 2, "merged": 1}
    assert st.rejection_rate == 0.5
    assert st.rejection_reasons == {"names a model": 2}


def test_a_taxonomy_file_adds_a_domain_and_descriptions_fall_back_to_the_category(tmp_path):
    path = tmp_path / "tax.json"
    path.write_text(json.dumps({"domain": "cooking", "categories": [
        {"name": "Baking", "description": "ovens and dough",
         "subcategories": [{"name": "Bread"}, {"name": "Cakes", "description": "sweet things"}]}]}))
    tax = load_taxonomy(path)
    entries = {(c, s): text for c, s, text in tax.entries()}
    assert entries[("Baking", "Bread")] == "Baking: Bread — ovens and dough"
    assert entries[("Baking", "Cakes")] == "Baking: Cakes — sweet things"
    assert "Baking" in tax.categories() and len(tax.categories()) > 1  # the default domains stay
