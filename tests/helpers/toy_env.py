"""A small environment with nested observations (Dict documents, Box user, Dict responses).

Used by the core tests: it exercises stacking, a user-aware candidate hook, the choice models and
the observation checks, without depending on any built-in environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from recframe.choice_model import MultinomialLogitChoiceModel
from recframe.document import AbstractDocument, AbstractDocumentSampler, CandidateSet
from recframe.simulator.environment import MultiUserEnvironment, SingleUserEnvironment
from recframe.simulator.recsim_gym import RecSimGymEnv
from recframe.user import AbstractResponse, AbstractUserModel, AbstractUserSampler, AbstractUserState

NUM_TOPICS = 3


class ToyDoc(AbstractDocument):
    def __init__(self, doc_id: int, topic: int, quality: float) -> None:
        super().__init__(doc_id)
        self.topic, self.quality = topic, quality

    def create_observation(self) -> dict[str, Any]:
        return {"topic": self.topic, "quality": np.array([self.quality], dtype=np.float32)}

    @classmethod
    def observation_space(cls) -> spaces.Space:
        return spaces.Dict(topic=spaces.Discrete(NUM_TOPICS), quality=spaces.Box(-10, 10, (1,), np.float32))


class ToySampler(AbstractDocumentSampler):
    """Draws documents; with ``user_aware`` every candidate has the user's favourite topic."""

    def __init__(self, seed: Any = 0, user_aware: bool = False) -> None:
        self.user_aware = user_aware
        self.seen_users: list[Any] = []
        super().__init__(ToyDoc, seed)

    def reset_sampler(self, seed: Any = None) -> None:
        super().reset_sampler(seed)
        self._next_id = 0

    def sample_document(self, topic: int | None = None) -> ToyDoc:
        self._next_id += 1
        topic = int(self._rng.integers(NUM_TOPICS)) if topic is None else topic
        return ToyDoc(self._next_id, topic, float(self._rng.normal()))

    def sample_candidates(self, num_candidates: int, user_state: Any = None) -> CandidateSet:
        self.seen_users.append(user_state)
        if not self.user_aware or user_state is None:
            return super().sample_candidates(num_candidates, user_state)
        favourite = int(np.argmax(user_state.interests))
        return CandidateSet(
            [self.sample_document(favourite) for _ in range(num_candidates)], stacker=self.stacker
        )


class ToyUser(AbstractUserState):
    def __init__(self, interests: np.ndarray, budget: int) -> None:
        self.interests, self.budget = interests, budget

    def create_observation(self) -> np.ndarray:
        return self.interests.astype(np.float32)

    @classmethod
    def observation_space(cls) -> spaces.Space:
        return spaces.Box(-1.0, 1.0, (NUM_TOPICS,), np.float32)

    def score_document(self, doc_obs: dict[str, Any]) -> float:
        return float(self.interests[doc_obs["topic"]] + doc_obs["quality"][0])


class ToyUserSampler(AbstractUserSampler):
    def sample_user(self) -> ToyUser:
        return ToyUser(self._rng.uniform(-1, 1, NUM_TOPICS), budget=5)


class ToyResponse(AbstractResponse):
    def __init__(self, clicked: bool = False, quality: float = 0.0) -> None:
        self.clicked, self.quality = clicked, quality

    def create_observation(self) -> dict[str, Any]:
        return {"click": int(self.clicked), "quality": np.array(self.quality, dtype=np.float32)}

    @classmethod
    def response_space(cls) -> spaces.Space:
        return spaces.Dict(click=spaces.Discrete(2), quality=spaces.Box(-10, 10, (), np.float32))


class ToyUserModel(AbstractUserModel):
    def __init__(self, slate_size: int, seed: Any = 0) -> None:
        super().__init__(ToyResponse, ToyUserSampler(ToyUser, seed=seed), slate_size, seed=seed)
        self.choice_model = MultinomialLogitChoiceModel({"no_click_mass": 0.5}, rng=self._rng)

    def simulate_response(self, documents: Sequence[ToyDoc]) -> list[ToyResponse]:
        responses = [ToyResponse() for _ in documents]
        self.choice_model.score_documents(self._user_state, [doc.create_observation() for doc in documents])
        chosen = self.choice_model.choose_item()
        if chosen is not None:
            responses[chosen].clicked = True
            responses[chosen].quality = documents[chosen].quality
        return responses

    def update_state(self, slate_documents: Sequence[ToyDoc], responses: Sequence[ToyResponse]) -> None:
        self._user_state.budget -= 1
        for doc, response in zip(slate_documents, responses):
            if response.clicked:
                step = 0.1 * self._rng.uniform()
                interests = self._user_state.interests
                interests[doc.topic] = np.clip(interests[doc.topic] + step, -1, 1)

    def is_terminal(self) -> bool:
        return self._user_state.budget <= 0


def clicks(responses: Sequence[ToyResponse]) -> float:
    return float(sum(r.clicked for r in responses))


def make_toy_env(
    num_candidates: int = 5,
    slate_size: int = 2,
    seed: int = 0,
    resample_documents: bool = True,
    user_aware: bool = False,
    num_users: int = 0,
    **kwargs: Any,
) -> RecSimGymEnv:
    sampler = ToySampler(seed=seed, user_aware=user_aware)
    if num_users:
        models = [ToyUserModel(slate_size, seed=seed + i) for i in range(num_users)]
        raw: Any = MultiUserEnvironment(models, sampler, num_candidates, slate_size, resample_documents)
        reward = lambda responses: float(sum(clicks(rs) for rs in responses))  # noqa: E731
    else:
        raw = SingleUserEnvironment(
            ToyUserModel(slate_size, seed), sampler, num_candidates, slate_size, resample_documents
        )
        reward = clicks
    return RecSimGymEnv(raw, reward, **kwargs)
