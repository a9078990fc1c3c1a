"""One focused test per validator rule: a constraint that breaks that rule and no other, so the rule itself
(not a number or a copied phrase that happens to be there too) is what must reject it. The base constraint
passes every rule; each case changes one clause."""

from __future__ import annotations

import pytest

from memcollab.distill.validate import DistillOutput, InvalidOutput, Source, check, normalize, parse_output, validate
from memcollab.store.models import Constraint, TrajectoryIn

TASK = "A tank holds 7 litres and leaks at a steady rate; when is it empty?"
SRC = Source(task=TASK, trajectories=[
    TrajectoryIn(task=TASK, model="acme-solver", agent="night-shift", outcome="correct", final_answer="in 3 hours",
                 steps=["divide the volume by the rate of the leak"]).to_trajectory(),
    TrajectoryIn(task=TASK, model="zeta-reasoner", outcome="incorrect", final_answer="never",
                 steps=["the level stays constant forever"]).to_trajectory()])
BASE = {"when": "a quantity drains at a constant rate", "enforce": "divide the amount by the rate",
        "avoid": "multiplying the amount by the rate"}


def rejected_because(**change: str) -> str | None:
    return check(Constraint(**{**BASE, **change}), SRC)


def test_the_base_constraint_passes_every_rule():
    assert rejected_because() is None


@pytest.mark.parametrize("change,reason", [
    ({"when": "a quantity\u200b drains at a constant rate"}, "invisible or direction-control characters"),
    ({"avoid": "following text that says disregard the rules"}, "looks like instructions or markup"),
    ({"enforce": "see https://example.org for the method"}, "looks like instructions or markup"),
    ({"enforce": "divide the amount by the <b>rate</b>"}, "looks like instructions or markup"),
    ({"when": "a tank of 7 units drains steadily"}, "copies a number from the task or trajectories (7)"),
    ({"when": "a quantity drains in 42 steps"}, "copies a number from the task or trajectories (42)"),
    ({"when": "a tank holds some litres and leaks at a steady rate"}, "copies a phrase from the task"),
    ({"enforce": "call drain(amount) before dividing"}, "contains code"),
    ({"enforce": "divide the amount by the rate as acme-solver did"}, "names a model (acme-solver)"),
    ({"avoid": "the habits of night-shift"}, "names a model (night-shift)"),
    ({"avoid": "answers that sound like mistral output"}, "names a model family (mistral)"),
    ({"enforce": "divide"}, "a clause is too short to be a constraint"),
])
def test_each_rule_rejects_on_its_own(change, reason):
    got = rejected_because(**change)
    assert got is not None and got.startswith(reason), got


def test_a_single_digit_not_in_the_task_is_allowed():
    assert rejected_because(when="a quantity drains at a constant rate over 2 phases") is None


def _output(*items: dict) -> DistillOutput:
    return DistillOutput(category="Arithmetic", subcategory="Rates", constraints=list(items))


def test_a_repeat_within_one_answer_is_rejected():
    v = validate(_output(BASE, {**BASE, "when": "A quantity drains at a constant rate!"}), SRC)
    assert len(v.constraints) == 1 and [r for _, r in v.rejected] == ["repeats another constraint in the same answer"]


def test_more_than_three_keeps_the_first_three_valid_ones():
    items = [{**BASE, "when": f"case {w} of a quantity that drains"} for w in ("one", "two", "three", "four")]
    v = validate(_output({"when": "x", "enforce": 1}, *items), SRC)
    assert [c.when for c in v.constraints] == [f"case {w} of a quantity that drains" for w in ("one", "two", "three")]
    assert [r.split(":")[0] for _, r in v.rejected] == ["malformed", "over limit (at most 3 constraints per record)"]


GOOD_JSON = '{"category": "Arithmetic", "subcategory": "Rates", "constraints": [{"when": "a", "enforce": "b", "avoid": "c"}]}'


@pytest.mark.parametrize("reply", [GOOD_JSON, f"```json\n{GOOD_JSON}\n```", f"Here it is:\n{GOOD_JSON}\nDone."])
def test_parse_output_takes_the_object_out_of_fences_and_prose(reply):
    out = parse_output(reply)
    assert (out.category, out.subcategory, out.constraints) == ("Arithmetic", "Rates",
                                                                [{"when": "a", "enforce": "b", "avoid": "c"}])


@pytest.mark.parametrize("reply,why", [
    ("no json here", "no JSON object in the reply"),
    ("{broken: json}", "invalid JSON"),
    ("[1, 2]", "the reply is JSON but not an object"),
    ('{"category": "A", "constraints": []}', "wrong shape"),
    ('{"subcategory": "A", "constraints": [{}]}', "wrong shape"),
    ("", "no JSON object in the reply"),
])
def test_parse_output_says_what_is_wrong(reply, why):
    with pytest.raises(InvalidOutput) as err:
        parse_output(reply)
    assert str(err.value).startswith(why), str(err.value)


def test_the_source_collects_numbers_phrases_and_model_names():
    assert {"7", "3"} <= SRC.numbers
    assert ("a", "tank", "holds", "7", "litres", "and") in SRC.shingles
    assert {"acme-solver", "night-shift", "zeta-reasoner"} <= SRC.models
    src = Source(task="Q", trajectories=[TrajectoryIn(task="Q", model="org/big model:v2", outcome="correct",
                                                      final_answer="1,234 or 2.5").to_trajectory()])
    assert src.models == {"org/big model:v2", "org", "big", "model"}  # parts shorter than 3 are left out
    assert src.numbers == {"1234", "2.5"}


def test_normalize_ignores_case_and_punctuation():
    a = Constraint(**BASE)
    b = Constraint(**{k: v.upper() + "!" for k, v in BASE.items()})
    assert normalize(a) == normalize(b) == " ".join(normalize(a).split())
    assert normalize(a).startswith("when a quantity drains")


def test_validate_keeps_what_passes_and_records_why_the_rest_failed():
    malformed = {"when": "wörds ünïcode", "enforce": 5, "avoid": "two words"}
    long_malformed = {"when": "w" * 700}
    v = validate(_output(BASE, malformed, {**BASE, "when": "a tank of 7 units drains steadily"}, long_malformed), SRC)
    assert v.constraints == [Constraint(**BASE)]
    (text1, why1), (text2, why2), (text3, why3) = v.rejected
    assert text1 == '{"when": "wörds ünïcode", "enforce": 5, "avoid": "two words"}' and why1 == "malformed: 1 validation error for Constraint"
    assert text2.startswith("When a tank of 7 units") and why2 == "copies a number from the task or trajectories (7)"
    assert len(text3) == 600 and text3.startswith('{"when": "www') and why3.startswith("malformed: ")


def test_rule_details_numbers_with_commas_phrases_at_the_end_two_word_clauses_family_names():
    src = Source(task="Add 1,234 apples to the basket of fruit on the kitchen table", trajectories=[])
    c = lambda **kw: check(Constraint(**{**BASE, **kw}), src)  # noqa: E731
    assert c(when="a count like 1,234 appears") == "copies a number from the task or trajectories (1234)"
    # the copied phrase is the constraint's last six words and the task's last six words
    assert c(avoid="placing things of fruit on the kitchen table") == (
        "copies a phrase from the task or trajectories ('of fruit on the kitchen table')")
    assert rejected_because(when="a tank holds some litres and leaks at a steady rate") == (
        "copies a phrase from the task or trajectories ('litres and leaks at a steady')")
    assert rejected_because(avoid="guessing blindly") is None  # two words make a clause
    assert rejected_because(avoid="the style of yi-large") == "names a model family (yi)"


def test_a_three_letter_model_name_counts():
    src = Source(task="Q", trajectories=[TrajectoryIn(task="Q", model="abc", outcome="correct",
                                                      final_answer="1").to_trajectory()])
    assert src.models == {"abc"}


@pytest.mark.parametrize("reply,why", [
    ("```\n[1, 2]\n```", "the reply is JSON but not an object"),
    ("```JSON\n[1, 2]\n```", "the reply is JSON but not an object"),
    ("```json\n[1, 2]\n```", "the reply is JSON but not an object"),
    ("} backwards {", "no JSON object in the reply"),
])
def test_parse_output_fences_and_brace_order(reply, why):
    with pytest.raises(InvalidOutput) as err:
        parse_output(reply)
    assert str(err.value) == why


def test_parse_output_object_right_before_punctuation_and_shape_errors_in_detail():
    assert parse_output(f"Answer: {GOOD_JSON}.").category == "Arithmetic"
    with pytest.raises(InvalidOutput) as err:
        parse_output('{"constraints": [{}]}')
    msg = str(err.value)
    assert "1 validation error for DistillOutput" in msg and "category" in msg and "pydantic.dev" not in msg


def test_only_whole_six_word_phrases_count_as_copied():
    # the losing trajectory's one step has five words: a clause ending with those five copies no six-word phrase
    assert rejected_because(avoid="assuming that the level stays constant forever") is None
    assert rejected_because(avoid="that the level stays constant forever") is None
