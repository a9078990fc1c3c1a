"""The store's status (store/status.py)."""

from __future__ import annotations

from memcollab.store.models import ConstraintVerdict
from memcollab.store.status import bank_status


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
