"""Taxonomies (store/taxonomy.py): the defaults and user files.

The default taxonomies and user taxonomy files."""

from __future__ import annotations

import json
import math

import pytest

from memcollab.store.taxonomy import default_taxonomy, load_taxonomy


MATH = {"Prealgebra", "Algebra", "Number Theory", "Counting & Probability", "Geometry", "Intermediate Algebra",
        "Precalculus"}


def test_math_has_the_seven_subjects_with_subcategories():
    math = next(d for d in default_taxonomy().domains if d.domain == "math")
    cats = {c.name: c for c in math.categories}
    assert MATH <= set(cats)
    for name in MATH:
        assert 8 <= len(cats[name].subcategories) <= 15, name
    assert any(s.name == "Distance & Midpoints" for s in cats["Prealgebra"].subcategories)


def test_every_subcategory_is_described_and_domains_present():
    tax = default_taxonomy()
    assert {d.domain for d in tax.domains} == {"math", "code", "reasoning"}
    entries = tax.entries()
    assert len(entries) > 100
    assert all(len(text) > len(c) + len(s) + 10 for c, s, text in entries)


def test_find_is_case_insensitive_and_unknown_is_none():
    tax = default_taxonomy()
    assert tax.find("number theory", "MODULAR arithmetic") == ("Number Theory", "Modular Arithmetic")
    assert tax.find("algebra") == ("Algebra", None)
    assert tax.find("Cooking", "Soups") is None


def test_as_text_is_compact():
    text = default_taxonomy().as_text()
    assert "math / Prealgebra:" in text and len(text) < 6000


def test_user_yaml_replaces_and_extends(tmp_path):
    f = tmp_path / "tax.yaml"
    f.write_text("domains:\n"
                 "  - domain: code\n    categories:\n      - name: SQL\n        subcategories:\n"
                 "          - {name: Joins, description: join two tables on a key}\n"
                 "  - domain: chemistry\n    categories:\n      - name: Stoichiometry\n")
    tax = load_taxonomy(f)
    assert {d.domain for d in tax.domains} == {"math", "reasoning", "code", "chemistry"}
    assert tax.find("sql", "joins") == ("SQL", "Joins")
    assert tax.find("String Manipulation") is None  # the default code domain was replaced


@pytest.mark.parametrize("content", ["domains: [ {", "- just a list", '{"domain": "x"}'])
def test_malformed_file_names_the_path(tmp_path, content):
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    with pytest.raises(ValueError, match="bad.yaml"):
        load_taxonomy(f)


def test_a_taxonomy_file_that_is_not_a_mapping_says_what_is_expected(tmp_path):
    f = tmp_path / "tax.json"
    f.write_text("[1, 2]")
    with pytest.raises(ValueError) as err:
        load_taxonomy(f)
    assert str(err.value) == f"taxonomy file {f}: expected a mapping with 'domain' or 'domains'"


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
