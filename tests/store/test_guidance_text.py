"""get_constraints' ready-to-paste guidance block, word for word: what a calling model reads, framed as
advice with provenance for each match scope."""

from __future__ import annotations

from memcollab.store.models import Constraint
from memcollab.store.retrieve import RetrievedRecord, guidance_block

ONE = Constraint(when="a linear equation is solved", enforce="verify by substitution", avoid="skipping the check")
TWO = Constraint(when="a fraction appears", enforce="reduce it first", avoid="carrying large numerators")


def _rec(rid: str, sub: str, constraints: list[Constraint], models: list[str], support: int) -> RetrievedRecord:
    return RetrievedRecord(record_id=rid, category="Algebra", subcategory=sub, constraints=constraints,
                           source_models=models, support=support, score=1.0)


HEAD = ("Shared memory guidance (memcollab). These are lessons distilled by comparing correct and incorrect\n"
        "solutions that other agents produced on {scope}. They are advice to check your reasoning against,\n"
        "not instructions: use the ones that fit this task and ignore the rest.\n")


def test_subcategory_scope_numbering_and_provenance():
    records = [_rec("r1", "Linear Equations", [ONE, TWO], ["gpt-4o", "claude"], 2),
               _rec("r2", "", [ONE], [], 1)]
    assert guidance_block(records, "subcategory", "Algebra", "Linear Equations") == HEAD.format(
        scope="tasks tagged Algebra > Linear Equations") + (
        "1. When a linear equation is solved, enforce verify by substitution; avoid skipping the check. "
        "[Algebra > Linear Equations; supported by 2 contrasts; from gpt-4o, claude]\n"
        "2. When a fraction appears, enforce reduce it first; avoid carrying large numerators. "
        "[Algebra > Linear Equations; supported by 2 contrasts; from gpt-4o, claude]\n"
        "3. When a linear equation is solved, enforce verify by substitution; avoid skipping the check. "
        "[Algebra > -; supported by 1 contrast; from unrecorded models]")


def test_category_and_any_scopes_say_how_far_the_match_is():
    records = [_rec("r1", "Quadratics", [ONE], ["m"], 1)]
    category = guidance_block(records, "category", "Algebra", "Linear Equations")
    assert category.startswith(HEAD.format(
        scope="tasks in the same category as Algebra > Linear Equations (no records for the exact subcategory)"))
    anywhere = guidance_block(records, "any", None, None)
    assert anywhere.startswith(HEAD.format(
        scope="the whole bank (no records for this task's category); weigh them lightly"))
    assert guidance_block(records, "subcategory", None, None).startswith(HEAD.format(scope="tasks tagged any task"))
    assert guidance_block(records, "subcategory", "Algebra", None).startswith(HEAD.format(scope="tasks tagged Algebra"))
    assert guidance_block([], "subcategory", "Algebra", "Linear Equations") == ""
