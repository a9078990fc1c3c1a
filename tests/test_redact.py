"""Credentials pasted into trajectories never reach the store."""

from __future__ import annotations

import io

import pytest

from conftest import call, memory_client
from memcollab.store.bank import Bank
from memcollab.store.redact import redact
from memcollab.store.transfer import export_jsonl

SECRETS = {
    "openai": "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD",
    "openai-proj": "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789-abcd",
    "anthropic": "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "google": "AIza" + "SyA-1234567890abcdefghijklmnopqrstu",
    "slack": "xoxb-1234567890-abcdefghijklmnop",
    "hf": "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "bearer": "Authorization: Bearer abcdefghijklmnopqrstuvwxyz123456",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234567890abcdef\nqwertyuiop\n-----END RSA PRIVATE KEY-----",
    "password": "password = hunter2hunter2",
}
SECRET_CORES = {k: v.split("Bearer ")[-1].split(" = ")[-1] for k, v in SECRETS.items()}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_redact_each_shape(kind):
    out = redact(f"before {SECRETS[kind]} after")
    assert "[REDACTED:" in out and out.startswith("before") and out.endswith("after")
    assert SECRET_CORES[kind][-12:] not in out


def test_plain_text_is_untouched():
    text = "Use the sk- prefix check; the token count is 12; Bearer of bad news; AKIA is a word."
    assert redact(text) == text


@pytest.mark.anyio
async def test_no_secret_reaches_the_store(store):
    blob = " ".join(SECRETS.values())
    async with memory_client(store) as c:
        await call(c, "submit_trajectory", {
            "task": f"Debug this: {blob}", "model": "m", "final_answer": blob, "outcome": "correct",
            "steps": [blob, "ok"], "metadata": {"env": blob, "nested": [{"k": SECRETS["openai"]}]},
            "agent": "agent", "category": "Code"})
    out = io.StringIO()
    export_jsonl(Bank(store), out)
    dump = out.getvalue()
    assert "[REDACTED:" in dump
    for kind, core in SECRET_CORES.items():
        assert core[-12:] not in dump, kind
