"""Long-term satisfaction ("choc vs. kale"): RecSim's engagement-versus-satisfaction trade-off.

A port of RecSim's ``recsim.environments.long_term_satisfaction`` with the same components, names,
default parameters and dynamics:

* **Documents** (:class:`LTSDocument`, drawn by :class:`LTSDocumentSampler`) have a clickbait
  score ``U(0, 1)``, which is their observation: 1 is pure "chocolate", 0 pure "kale".
* **Users** (:class:`LTSUserState`, drawn by :class:`LTSStaticUserSampler`) share their parameters
  (memory discount 0.7, sensitivity 0.01, innovation stddev 0.05, chocolate engagement
  ``lognormal(5, 1)``, kale ``lognormal(4, 1)``, 60 clicks per session) and start with a net
  positive exposure ``NPE_0 = (U(0, 1) - 0.5) / (1 - memory_discount)``. Their state is hidden.
* **Response** (:class:`LTSUserModel`): the user always clicks the *first* slate item, with
  engagement ``exp(N(loc, scale))``, ``loc = (c * choc_mean + (1 - c) * kale_mean) *
  satisfaction`` and ``scale = c * choc_stddev + (1 - c) * kale_stddev`` for clickbait score c.
* **Transition**: ``NPE <- memory_discount * NPE - 2 * (c - 0.5) + N(0, innovation_stddev)``,
  ``satisfaction = sigmoid(sensitivity * NPE)``; each click spends one unit of the time budget.
* **Reward**: :func:`clicked_engagement_reward`, the engagement of the clicked item.

RecSim quirks kept (for parity): only the first slate position matters (the user always clicks
it); the NPE update *subtracts* ``2 * (c - 0.5)`` (so clickbait lowers satisfaction) although
RecSim's docstring says it adds it; the observed engagement is clipped to [0, 100] but the reward
is the unclipped engagement; with sensitivity 0.01 the satisfaction stays close to 0.5; the user
observation is an empty array.

RecSim quirks fixed: ``create_environment`` ignored ``seed`` (every environment drew the same
documents and users) and the engagement and NPE noise came from the global numpy RNG (now all
draws come from seeded streams); ``LTSResponse.__str__`` raised a TypeError (str + float);
documents were keyed by ever-growing ids (now stacked by candidate position); bad slates were
accepted silently (now they raise); observations are float32 as their spaces declare.

Example:
    >>> import gymnasium as gym, recframe
    >>> env = gym.make("recframe/LongTermSatisfaction-v0")
    >>> obs, _ = env.reset(seed=0)
    >>> obs["doc"].shape
    (10, 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from recframe.document import AbstractDocument, CandidateSet
from recframe.environments._recsim_common import (
    COMMON_DEFAULTS,
    FieldResponse,
    StackedResponseUserModel,
    VectorizedDocumentSampler,
    check_positive,
    merge_config,
)
from recframe.seeding import SeedLike, child_seeds
from recframe.simulator.environment import SingleUserEnvironment
from recframe.simulator.recsim_gym import RecSimGymEnv
from recframe.user import AbstractUserModel, AbstractUserSampler, AbstractUserState

__all__ = [
    "DEFAULT_CONFIG",
    "LTSDocument",
    "LTSDocumentSampler",
    "LTSUserState",
    "LTSStaticUserSampler",
    "LTSResponse",
    "LTSUserModel",
    "clicked_engagement_reward",
    "create_environment",
]

_USER_PARAMETERS: dict[str, float] = {
    "memory_discount": 0.7,
    "sensitivity": 0.01,
    "innovation_stddev": 0.05,
    "choc_mean": 5.0,
    "choc_stddev": 1.0,
    "kale_mean": 4.0,
    "kale_stddev": 1.0,
    "time_budget": 60,
}

#: ``create_environment``'s keys and defaults (RecSim's defaults).
DEFAULT_CONFIG: dict[str, Any] = {**COMMON_DEFAULTS, **_USER_PARAMETERS}


class LTSDocument(AbstractDocument):
    """A document with a clickbait score in [0, 1]."""

    def __init__(self, doc_id: int, clickbait_score: float) -> None:
        super().__init__(doc_id)
        self.clickbait_score = clickbait_score

    def create_observation(self) -> np.ndarray:
        return np.array([self.clickbait_score], dtype=np.float32)

    @classmethod
    def observation_space(cls) -> spaces.Box:
        return spaces.Box(low=0.0, high=1.0, shape=(1,), dtype=np.float32)


class LTSDocumentSampler(VectorizedDocumentSampler):
    """Draws documents with a ``U(0, 1)`` clickbait score."""

    def __init__(self, doc_ctor: type[LTSDocument] = LTSDocument, seed: SeedLike = 0) -> None:
        super().__init__(doc_ctor, seed=seed)

    def sample_candidates(
        self, num_candidates: int, user_state: AbstractUserState | None = None
    ) -> CandidateSet:
        del user_state
        scores = self._rng.random(num_candidates)
        ctor = self._doc_ctor

        def make(doc_id: int, i: int) -> LTSDocument:
            return ctor(doc_id, float(scores[i]))

        return self._candidate_set(scores.astype(np.float32)[:, None], num_candidates, make)


class LTSUserState(AbstractUserState):
    """A user's hidden satisfaction dynamics (see the module docstring for the equations)."""

    def __init__(
        self,
        memory_discount: float,
        sensitivity: float,
        innovation_stddev: float,
        choc_mean: float,
        choc_stddev: float,
        kale_mean: float,
        kale_stddev: float,
        net_positive_exposure: float,
        time_budget: float,
    ) -> None:
        self.memory_discount = memory_discount
        self.sensitivity = sensitivity
        self.innovation_stddev = innovation_stddev
        self.choc_mean = choc_mean
        self.choc_stddev = choc_stddev
        self.kale_mean = kale_mean
        self.kale_stddev = kale_stddev
        self.net_positive_exposure = net_positive_exposure
        self.satisfaction = 1.0 / (1.0 + math.exp(-sensitivity * net_positive_exposure))
        self.time_budget = time_budget

    def create_observation(self) -> np.ndarray:
        """Nothing of the user is observable."""
        return np.zeros(0, dtype=np.float32)

    def score_document(self, doc_obs: Any) -> float:
        """Every document scores 1 (the user has no choice model)."""
        del doc_obs
        return 1.0

    @classmethod
    def observation_space(cls) -> spaces.Box:
        return spaces.Box(low=0.0, high=np.inf, shape=(0,), dtype=np.float32)

    def __repr__(self) -> str:
        return (
            f"LTSUserState(net_positive_exposure={self.net_positive_exposure:.4g}, "
            f"satisfaction={self.satisfaction:.4g}, time_budget={self.time_budget})"
        )


class LTSStaticUserSampler(AbstractUserSampler[LTSUserState]):
    """Users with identical parameters and a random starting net positive exposure.

    Args:
        user_ctor: the user state class.
        memory_discount, sensitivity, innovation_stddev, choc_mean, choc_stddev, kale_mean,
            kale_stddev, time_budget: the users' parameters (see the module docstring).
        seed: the sampler's seed.
    """

    def __init__(
        self,
        user_ctor: type[LTSUserState] = LTSUserState,
        memory_discount: float = 0.7,
        sensitivity: float = 0.01,
        innovation_stddev: float = 0.05,
        choc_mean: float = 5.0,
        choc_stddev: float = 1.0,
        kale_mean: float = 4.0,
        kale_stddev: float = 1.0,
        time_budget: float = 60,
        seed: SeedLike = 0,
    ) -> None:
        if not 0.0 <= memory_discount < 1.0:
            raise ValueError(f"memory_discount must be in [0, 1), got {memory_discount!r}")
        for name, value in (
            ("innovation_stddev", innovation_stddev),
            ("choc_stddev", choc_stddev),
            ("kale_stddev", kale_stddev),
        ):
            check_positive(name, value, allow_zero=True)
        check_positive("time_budget", time_budget)
        self._state_parameters = {
            "memory_discount": memory_discount,
            "sensitivity": sensitivity,
            "innovation_stddev": innovation_stddev,
            "choc_mean": choc_mean,
            "choc_stddev": choc_stddev,
            "kale_mean": kale_mean,
            "kale_stddev": kale_stddev,
            "time_budget": time_budget,
        }
        super().__init__(user_ctor, seed=seed)

    def sample_user(self) -> LTSUserState:
        spread = 1.0 / (1.0 - self._state_parameters["memory_discount"])
        starting_npe = (self._rng.random() - 0.5) * spread
        return self._user_ctor(net_positive_exposure=starting_npe, **self._state_parameters)


class LTSResponse(FieldResponse):
    """The user's response to one document: clicked or not, and the engagement.

    The observed engagement is clipped to ``[0, MAX_ENGAGEMENT_MAGNITUDE]``; the attribute (and
    so the reward) is not.
    """

    #: Upper bound of the observed engagement.
    MAX_ENGAGEMENT_MAGNITUDE = 100.0
    FIELDS = {"click": ("clicked", np.int64), "engagement": ("engagement", np.float32)}
    CLIP = {"engagement": (0.0, MAX_ENGAGEMENT_MAGNITUDE)}

    def __init__(self, clicked: bool = False, engagement: float = 0.0) -> None:
        self.clicked = clicked
        self.engagement = engagement

    def __str__(self) -> str:
        return f"[{self.engagement}]"

    @classmethod
    def response_space(cls) -> spaces.Dict:
        return spaces.Dict(
            {
                "click": spaces.Discrete(2),
                "engagement": spaces.Box(0.0, cls.MAX_ENGAGEMENT_MAGNITUDE, shape=(), dtype=np.float32),
            }
        )


class LTSUserModel(StackedResponseUserModel, AbstractUserModel[LTSUserState, LTSResponse]):
    """Clicks the first slate item, engages according to satisfaction, and updates satisfaction.

    Args:
        slate_size: the number of documents per slate.
        user_state_ctor: the user state class.
        response_model_ctor: the response class.
        seed: seeds the user sampler and the response stream (through independent child seeds).
        user_sampler: use this sampler instead of a default :class:`LTSStaticUserSampler`.
    """

    def __init__(
        self,
        slate_size: int,
        user_state_ctor: type[LTSUserState] = LTSUserState,
        response_model_ctor: type[LTSResponse] = LTSResponse,
        seed: SeedLike = 0,
        user_sampler: AbstractUserSampler[LTSUserState] | None = None,
    ) -> None:
        if response_model_ctor is None:
            raise TypeError("response_model_ctor is a required callable")
        sampler_seed, model_seed = child_seeds(seed, 2)  # as reset_sampler(seed) derives them
        if user_sampler is None:
            user_sampler = LTSStaticUserSampler(user_ctor=user_state_ctor, seed=sampler_seed)
        super().__init__(response_model_ctor, user_sampler, slate_size, seed=model_seed)

    def is_terminal(self) -> bool:
        return self._user_state.time_budget <= 0

    def simulate_response(self, documents: Sequence[LTSDocument]) -> list[LTSResponse]:
        """The user clicks the first document; the others get empty responses."""
        responses = [self._response_model_ctor() for _ in documents]
        self.generate_response(documents[0], responses[0])
        return responses

    def generate_response(self, doc: LTSDocument, response: LTSResponse) -> None:
        """Fills in a click on ``doc`` with its engagement."""
        state, c = self._user_state, doc.clickbait_score
        loc = (c * state.choc_mean + (1.0 - c) * state.kale_mean) * state.satisfaction
        scale = c * state.choc_stddev + (1.0 - c) * state.kale_stddev
        response.clicked = True
        response.engagement = math.exp(loc + scale * self._rng.standard_normal())

    def update_state(self, slate_documents: Sequence[LTSDocument], responses: Sequence[LTSResponse]) -> None:
        """Moves the net positive exposure and satisfaction after the (first) click."""
        state = self._user_state
        for doc, response in zip(slate_documents, responses):
            if response.clicked:
                innovation = state.innovation_stddev * self._rng.standard_normal()
                npe = (
                    state.memory_discount * state.net_positive_exposure
                    - 2.0 * (doc.clickbait_score - 0.5)
                    + innovation
                )
                state.net_positive_exposure = npe
                state.satisfaction = 1.0 / (1.0 + math.exp(-state.sensitivity * npe))
                state.time_budget -= 1
                return


def clicked_engagement_reward(responses: Sequence[LTSResponse]) -> float:
    """The (unclipped) engagement of the clicked documents."""
    return float(sum(response.engagement for response in responses if response.clicked))


def create_environment(env_config: Mapping[str, Any] | None = None, **overrides: Any) -> RecSimGymEnv:
    """Builds the long-term satisfaction environment (RecSim's ``create_environment``).

    Keys (``env_config`` or keywords; see :data:`DEFAULT_CONFIG`): ``num_candidates``,
    ``slate_size``, ``resample_documents``, ``seed`` (RecSim ignored it; here it seeds everything),
    ``render_mode``, and the user parameters ``memory_discount``, ``sensitivity``,
    ``innovation_stddev``, ``choc_mean``, ``choc_stddev``, ``kale_mean``, ``kale_stddev``,
    ``time_budget``.
    """
    config, render_mode = merge_config("long_term_satisfaction", DEFAULT_CONFIG, env_config, overrides)
    user_sampler = LTSStaticUserSampler(LTSUserState, **{key: config[key] for key in _USER_PARAMETERS})
    user_model = LTSUserModel(config["slate_size"], user_sampler=user_sampler)
    raw = SingleUserEnvironment(
        user_model,
        LTSDocumentSampler(),
        config["num_candidates"],
        config["slate_size"],
        resample_documents=config["resample_documents"],
    )
    raw.reset_sampler(config["seed"])
    return RecSimGymEnv(raw, clicked_engagement_reward, render_mode=render_mode)
