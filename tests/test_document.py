from __future__ import annotations

import numpy as np
import pytest

from recframe.document import CandidateSet, FeatureDocument


class Unit(FeatureDocument):
    NUM_FEATURES = 3
    FEATURE_LOW, FEATURE_HIGH = -1.0, 1.0


def test_feature_document_observation_lies_in_its_declared_space():
    doc = Unit(7, np.array([0.5, -1.0, 1.0], dtype=np.float32))
    assert doc.doc_id() == 7 and Unit.observation_space().contains(doc.create_observation())
    assert not Unit.observation_space().contains(np.array([0.0, 0.0, 1.5], dtype=np.float32))


def test_candidate_set_stacks_and_selects_by_position():
    docs = [Unit(i, np.full(3, i / 10, dtype=np.float32)) for i in range(4)]
    candidates = CandidateSet(docs)
    assert candidates.create_observation().shape == (4, 3)
    assert [d.doc_id() for d in candidates.get_documents([3, 0])] == [3, 0]
    assert candidates.doc_ids().tolist() == [0, 1, 2, 3] and candidates.size() == 4
    candidates.remove_document(docs[1])
    assert candidates.create_observation().shape == (3, 3)
    candidates.add_document(docs[1])
    assert candidates.doc_ids().tolist() == [0, 2, 3, 1]
    with pytest.raises(ValueError, match="empty"):
        CandidateSet([]).create_observation()
