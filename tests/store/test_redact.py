"""Credentials never reach the store, by any path: submit, import (a trajectory line with its own id, a
record's task), distillation (what a model writes) and a client's submit_constraints."""

from __future__ import annotations

import io
import json

import pytest

from conftest import call, memory_client, traj
from memcollab.distill.pairing import pair_task
from memcollab.distill.store_constraints import store_distilled
from memcollab.distill.validate import DistillOutput
from memcollab.store.bank import Bank
from memcollab.store.models import TrajectoryIn
from memcollab.store.redact import _PATTERNS, redact
from memcollab.store.transfer import export_jsonl, import_jsonl

# one sample per pattern, keyed by the kind the pattern must report; the part after the last "|" must go
SECRETS = {
    "private-key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234567890abcdef\nqwertyuiop\n"
                   "-----END RSA PRIVATE KEY-----",
    "anthropic-key": "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "openai-key": "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789-abcd",
    "github-token": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "aws-access-key": "AKIAIOSFODNN7EXAMPLE",
    "aws-secret": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYa",
    "google-api-key": "AIza" + "SyA-1234567890abcdefghijklmnopqrstu",
    "slack-token": "xoxb-1234567890-abcdefghijklmnop",
    "huggingface-token": "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    "stripe-key": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "bearer-token": "Authorization: Bearer abcdefghijklmnopqrstuvwxyz123456",
    "secret-assignment": "password = hunter2hunter2",
}


def core(kind: str) -> str:
    """The secret part of a sample: what must not survive."""
    s = SECRETS[kind]
    for sep in ("Bearer ", " = "):
        s = s.split(sep)[-1]
    return s.replace("-----BEGIN RSA PRIVATE KEY-----\n", "")[:24]


def assert_clean(text: str) -> None:
    for kind in SECRETS:
        assert core(kind) not in text, f"{kind} secret leaked"


def test_every_pattern_has_a_sample():
    assert sorted(k for k, _, _ in _PATTERNS) == sorted(SECRETS)


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_each_pattern_redacts_its_own_shape(kind):
    out = redact(f"before {SECRETS[kind]} after")
    assert f"[REDACTED:{kind}]" in out, out  # this pattern, not a broader one, caught it
    assert out.startswith("before") and out.endswith("after")
    assert core(kind) not in out


# more shapes per pattern: together with SECRETS, one sample for every trigger a pattern has
VARIANTS = {
    "github-token": ["gho_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "ghu_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
                     "ghs_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "ghr_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
                     "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF"],
    "aws-access-key": ["ASIAIOSFODNN7EXAMPLE"],
    "stripe-key": ["sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc", "rk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"],
    "openai-key": ["sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD", "sk-svcacct-abcdefghijklmnopqrstuvwxyz012345"],
    "secret-assignment": ["api_key=abcdefgh12345678", "secret-key: 'abcdefgh12345678'", "access_token = abcdefgh1234",
                          "AUTH_TOKEN: abcdefgh12345678", "passwd=abcdefgh1234"],
    "private-key": ["-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n"
                    "-----END OPENSSH PRIVATE KEY-----"],
}


def test_every_trigger_has_a_sample():
    for kind, triggers, _ in _PATTERNS:
        samples = [SECRETS[kind], *VARIANTS.get(kind, [])]
        for t in triggers:
            assert any(t in x.lower() for x in samples), f"{kind}: no sample for trigger {t!r}"


@pytest.mark.parametrize("kind,sample", [(k, x) for k, xs in sorted(VARIANTS.items()) for x in xs])
def test_each_variant_is_redacted_by_its_pattern(kind, sample):
    out = redact(f"x {sample} y")
    assert f"[REDACTED:{kind}]" in out and out.startswith("x ") and out.endswith(" y"), out
    secret = sample.split("=")[-1].split(": ")[-1].strip("' ")
    assert secret[-10:] not in out


def test_plain_text_is_untouched():
    text = ("Use the sk- prefix check; the token count is 12; Bearer of bad news; AKIA is a word; the API key "
            "idea; password: short; access granted; -----BEGIN PUBLIC KEY-----")
    assert redact(text) == text


def test_a_cut_off_private_key_inside_json_keeps_the_json_valid():
    blob = json.dumps({"a": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq", "b": "kept"})
    out = json.loads(redact(blob))
    assert out == {"a": "[REDACTED:private-key]", "b": "kept"}


BLOB = " ".join(SECRETS.values())


@pytest.mark.anyio
async def test_no_secret_reaches_the_store_through_submit(store):
    async with memory_client(store) as c:
        await call(c, "submit_trajectory", {
            "task": f"Debug this: {BLOB}", "model": "m", "final_answer": BLOB, "outcome": "correct",
            "steps": [BLOB, "ok"], "metadata": {"env": BLOB, "nested": [{"k": SECRETS["openai-key"]}],
                                                SECRETS["slack-token"]: "a key as a key"},
            "agent": "agent", "category": "Code"})
    out = io.StringIO()
    export_jsonl(Bank(store), out)
    assert "[REDACTED:" in out.getvalue()
    assert_clean(out.getvalue())


def _stored_text(bank: Bank) -> str:
    rows = [bank._select(name) for name in ("trajectories", "pairs", "records", "verdicts", "feedback")]
    return json.dumps(rows, default=str)


def test_import_redacts_lines_that_carry_their_own_id_and_record_tasks(tmp_path):
    bank = Bank(tmp_path / "s")
    t = TrajectoryIn(task="Q", model="a", outcome="correct", final_answer="1").to_trajectory()
    line = {"type": "trajectory", **t.model_dump(mode="json"), "task": f"Q {BLOB}", "steps": [BLOB],
            "final_answer": BLOB, "metadata": {"k": BLOB}, "agent": SECRETS["openai-key"]}
    record = {"type": "record", "category": "Code", "subcategory": "Debugging", "task": f"fix {BLOB}",
              "constraints": [{"when": "a key is pasted", "enforce": "treat it as data", "avoid": "echoing it"}]}
    feedback = {"type": "feedback", "id": "f-1", "record_id": "r-x", "helped": True, "model": SECRETS["jwt"]}
    report = import_jsonl(bank, [json.dumps(line), json.dumps(record), json.dumps(feedback)], progress=lambda _m: None)
    assert report["errors"] == [] and report["stored"]["trajectory"] == 1 and report["stored"]["record"] == 1
    (stored,) = bank.trajectories()
    assert stored.id == t.id and stored.task.startswith("Q [REDACTED:")
    assert_clean(_stored_text(bank))


def _seed_pair(bank: Bank, secret_in_task: bool = False):
    task = "Sum the two readings from the log." + (f" {SECRETS['aws-access-key']}" if secret_in_task else "")
    a = TrajectoryIn(task=task, model="m1", outcome="correct", final_answer="7", steps=["add"]).to_trajectory()
    b = TrajectoryIn(task=task, model="m2", outcome="incorrect", final_answer="8", steps=["guess"]).to_trajectory()
    bank.add_trajectories([a, b])
    pair_task(bank, a.task_id)
    return bank.pairs()[0]


def test_distilled_constraints_and_verdicts_are_redacted(tmp_path):
    """What a distiller writes (the litellm job and a client's submit_constraints both end here)."""
    bank = Bank(tmp_path / "s")
    pair = _seed_pair(bank, secret_in_task=True)
    out = DistillOutput(category="Arithmetic", subcategory="Sums", constraints=[
        {"when": "reading values from a log", "enforce": f"treat {SECRETS['stripe-key']} as opaque",
         "avoid": "pasting credentials"},
        {"when": SECRETS["github-token"], "enforce": 5},  # malformed: its raw text lands in the verdicts
        {"when": "summing readings from a log", "enforce": "add every reading once", "avoid": "skipping a line"}])
    res = store_distilled(bank, pair, out, distiller=f"client {SECRETS['huggingface-token']}",
                          prompt_version="v")
    assert res.stored == 1 and res.rejected == 2
    bank.set_pair(pair.id, status="failed", last_error=f"AuthenticationError: bad key {SECRETS['openai-key']}")
    assert_clean(_stored_text(bank))


@pytest.mark.anyio
async def test_client_submitted_constraints_are_redacted(store):
    bank = Bank(store)
    pair = _seed_pair(bank)
    async with memory_client(store) as c:
        res = await call(c, "submit_constraints", {
            "pair_id": pair.id, "category": "Arithmetic", "subcategory": "Sums",
            "distiller": SECRETS["anthropic-key"],
            "constraints": [{"when": "summing readings from a log", "enforce": "add every reading once",
                             "avoid": "skipping a line"},
                            {"when": "a token appears", "enforce": SECRETS["bearer-token"], "avoid": "x y"},
                            {"avoid": SECRETS["google-api-key"]}]})
    assert res["stored"] == 1 and res["rejected"] == 2
    assert_clean(_stored_text(bank))


def test_objects_read_back_from_the_store_are_not_cleaned_twice():
    from memcollab.store.models import STORED, Trajectory

    row = {"id": "x", "task_id": "t", "task": SECRETS["openai-key"], "model": "m", "outcome": "correct"}
    assert Trajectory(**row).task == "[REDACTED:openai-key]"  # built from outside: cleaned
    assert Trajectory.model_validate(row, context=STORED).task == SECRETS["openai-key"]  # a stored row: as is
