from __future__ import annotations

import numpy as np
import pytest

from recframe.simulator.environment import MultiUserEnvironment, SingleUserEnvironment


def _parts():
    from toy_env import ToySampler, ToyUserModel

    return ToyUserModel(2, seed=0), ToySampler(seed=0)


def test_raw_step_returns_recsim_tuple():
    model, sampler = _parts()
    env = SingleUserEnvironment(model, sampler, num_candidates=5, slate_size=2)
    user_obs, doc_obs = env.reset()
    assert user_obs.shape == (3,) and doc_obs["topic"].shape == (5,)
    user_obs, doc_obs, responses, done = env.step([4, 0])
    assert len(responses) == 2 and isinstance(done, bool)
    assert env.candidate_set.size() == 5 and env.num_clusters == 0


def test_resample_documents_false_keeps_the_candidates():
    model, sampler = _parts()
    env = SingleUserEnvironment(model, sampler, 5, 2, resample_documents=False)
    env.reset()
    ids = env.candidate_set.doc_ids()
    env.step([0, 1])
    assert np.array_equal(ids, env.candidate_set.doc_ids())


def test_resample_documents_true_draws_new_candidates():
    model, sampler = _parts()
    env = SingleUserEnvironment(model, sampler, 5, 2)
    env.reset()
    ids = env.candidate_set.doc_ids()
    env.step([0, 1])
    assert not set(ids) & set(env.candidate_set.doc_ids())


@pytest.mark.parametrize("num_candidates, slate_size", [(2, 3), (4, 0)])
def test_bad_sizes_are_rejected(num_candidates, slate_size):
    model, sampler = _parts()
    with pytest.raises(ValueError, match="slate_size"):
        SingleUserEnvironment(model, sampler, num_candidates, slate_size)


def test_sampler_returning_the_wrong_number_of_candidates_is_named():
    model, sampler = _parts()
    sampler.sample_candidates = lambda n, user=None: type(sampler).sample_candidates(sampler, n - 1, user)
    with pytest.raises(ValueError, match="ToySampler.sample_candidates returned 4 documents"):
        SingleUserEnvironment(model, sampler, 5, 2)


def test_multi_user_environment_needs_a_sequence_of_models():
    model, sampler = _parts()
    with pytest.raises(TypeError, match="sequence of user models"):
        MultiUserEnvironment(model, sampler, 5, 2)


def test_ended_users_get_no_responses_while_others_go_on():
    from toy_env import ToySampler, ToyUserModel

    short, long_ = ToyUserModel(2, seed=1), ToyUserModel(2, seed=2)
    env = MultiUserEnvironment([short, long_], ToySampler(seed=0), 5, 2)
    env.reset()
    short.user_state.budget = 1
    _, _, responses, done = env.step([[0, 1], [2, 3]])
    assert len(responses[0]) == 2 and not done
    _, _, responses, done = env.step([[0, 1], [2, 3]])
    assert responses[0] == [] and len(responses[1]) == 2 and not done


def test_sampler_can_declare_the_document_space_per_instance():
    from gymnasium import spaces
    from toy_env import ToyUserModel

    from recframe.document import AbstractDocument, AbstractDocumentSampler

    class Item(AbstractDocument):
        def create_observation(self):
            return self.doc_id()

        @classmethod
        def observation_space(cls):
            raise NotImplementedError("the sampler knows the catalog size")

    class Catalog(AbstractDocumentSampler):
        def __init__(self, size):
            self.size = size
            super().__init__(Item)

        def sample_document(self):
            return Item(int(self._rng.integers(self.size)))

        def document_observation_space(self):
            return spaces.Discrete(self.size)

    env = SingleUserEnvironment(ToyUserModel(2), Catalog(7), num_candidates=4, slate_size=2)
    assert env.document_observation_space() == spaces.MultiDiscrete([7] * 4)
    _, doc_obs = env.reset()
    assert env.document_observation_space().contains(doc_obs)
