"""The model ranking that picks τ+ (MEMCOLLAB_MODEL_RANKING): a versioned model name counts as its family."""

from __future__ import annotations

from memcollab.distill.pairing import _strength, model_ranking


def test_a_versioned_name_ranks_as_its_family(monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_MODEL_RANKING", " GPT-4o , llama-3 ,")
    ranking = model_ranking()
    assert ranking == ["gpt-4o", "llama-3"]
    assert _strength("gpt-4o", ranking) == 0
    assert _strength("GPT-4o-2024-08-06", ranking) == 0
    assert _strength("llama-3-8b", ranking) == 1
    assert _strength("unranked-model", ranking) == 2
    monkeypatch.delenv("MEMCOLLAB_MODEL_RANKING")
    assert model_ranking() == []
