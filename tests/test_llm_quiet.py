"""A failing provider call prints nothing on stdout: litellm's debug hints ("Give Feedback / Get Help", "If you
need to debug this error…") go to stdout unless suppressed, and in the stdio server stdout is JSON-RPC only. The
provider is the stand-in (tests/support/fake_llm.py), reached through litellm as a real one is."""

from __future__ import annotations

import asyncio

import litellm
import pytest

from memcollab.distill.llm import complete
from support.fake_llm import FakeLLM, Reply


def test_a_provider_error_prints_nothing_on_stdout(capfd, monkeypatch):
    monkeypatch.setattr(litellm, "suppress_debug_info", False)  # as a fresh process has it
    with FakeLLM([Reply("upstream exploded", status=500)]) as llm:
        with pytest.raises(Exception):
            asyncio.run(complete("openai/stand-in", [{"role": "user", "content": "hi"}], llm.api_base, timeout=30))
    assert capfd.readouterr().out == ""
    assert litellm.suppress_debug_info is True
