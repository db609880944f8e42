"""Interest exploration: RecSim's correlated-arms bandit of topics with popularity bias.

A port of RecSim's ``recsim.environments.interest_exploration`` with the same components, names,
default parameters and dynamics:

* **Documents** (:class:`IEDocument`, drawn by :class:`IETopicDocumentSampler`) have one of two
  topics (probabilities 0.2 / 0.8) and a production quality ``lognormal(mean[topic], 0.1)`` with
  means 0.8 / 0.2: the niche topic is better produced.
* **Users** (:class:`IEUserState`, drawn by :class:`IEClusterUserSampler`) are of one of two
  types (0.3 / 0.7) with an affinity per topic ``lognormal(mean[type, topic], 0.1)``, means
  ``((0.1, 0.7), (0.7, 0.1))``. The user's state never changes and is not observed.
* **Choice**: multinomial logit over ``affinity[topic] + quality`` with ``no_click_mass=5``.
* **Reward**: :func:`total_clicks_reward`, the number of clicks. The session never ends (cap it
  with ``gymnasium.wrappers.TimeLimit`` or ``max_episode_steps``).

A myopic agent favours the widely liked topic and never learns the niche users' interests.

RecSim quirks kept (for parity): the session never terminates; the user observation is an empty
array; the quality noise parameters are called standard deviations and are the lognormal's sigma.

RecSim quirks fixed: the quality's observation bound was infinite, which Gymnasium's checker
rejects, so it is 100 (a lognormal quality beyond it, 38 sigmas out with the defaults, is
reported as an observation error, never clipped); the choice was drawn from the global numpy RNG (now the user model's seeded
stream); ``create_environment`` set ``NUM_CLUSTERS`` on the shared ``IEDocument`` and
``IEResponse`` classes, so two environments with different topic counts broke each other (now
per-environment subclasses); the user and document samplers were seeded with the same seed and so
drew from identical streams (now independent child seeds); documents were keyed by ever-growing
ids (now stacked by candidate position); bad slates were accepted silently (now they raise);
distributions that do not sum to one were accepted (now a ValueError).

Example:
    >>> import gymnasium as gym, recframe
    >>> env = gym.make("recframe/InterestExploration-v0")
    >>> obs, _ = env.reset(seed=0)
    >>> sorted(obs["doc"])
    ['cluster_id', 'quality']
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from recframe.choice_model import AbstractChoiceModel, MultinomialLogitChoiceModel
from recframe.document import AbstractDocument, CandidateSet
from recframe.environments._recsim_common import (
    COMMON_DEFAULTS,
    FieldResponse,
    StackedResponseUserModel,
    VectorizedDocumentSampler,
    aggregate_video_cluster_metrics,
    categorical,
    check_positive,
    check_probabilities,
    merge_config,
    total_clicks_reward,
    write_video_cluster_metrics,
)
from recframe.seeding import SeedLike, child_seeds
from recframe.simulator.environment import SingleUserEnvironment
from recframe.simulator.recsim_gym import RecSimGymEnv
from recframe.user import AbstractUserModel, AbstractUserSampler, AbstractUserState

__all__ = [
    "DEFAULT_CONFIG",
    "IEDocument",
    "IETopicDocumentSampler",
    "IEUserState",
    "IEClusterUserSampler",
    "IEResponse",
    "IEUserModel",
    "total_clicks_reward",
    "create_environment",
]

#: ``create_environment``'s keys and defaults (RecSim's defaults).
DEFAULT_CONFIG: dict[str, Any] = {
    **COMMON_DEFAULTS,
    "no_click_mass": 5.0,
    "user_type_distribution": (0.3, 0.7),
    "user_document_mean_affinity_matrix": ((0.1, 0.7), (0.7, 0.1)),
    "user_document_stddev_affinity_matrix": ((0.1, 0.1), (0.1, 0.1)),
    "topic_distribution": (0.2, 0.8),
    "topic_quality_mean": (0.8, 0.2),
    "topic_quality_stddev": (0.1, 0.1),
}


class IEDocument(AbstractDocument):
    """A document: its topic (cluster) and its production quality.

    ``NUM_CLUSTERS`` is the number of topics (``create_environment`` subclasses it as needed).
    """

    NUM_CLUSTERS = 2
    #: Upper bound of the quality in the observation space (RecSim's was infinite).
    MAX_QUALITY = 100.0

    def __init__(self, doc_id: int, cluster_id: int, quality: float) -> None:
        super().__init__(doc_id)
        self.cluster_id = cluster_id
        self.quality = quality

    def create_observation(self) -> dict[str, Any]:
        return {"quality": np.array(self.quality, dtype=np.float32), "cluster_id": int(self.cluster_id)}

    @classmethod
    def observation_space(cls) -> spaces.Dict:
        return spaces.Dict(
            {
                "quality": spaces.Box(0.0, cls.MAX_QUALITY, shape=(), dtype=np.float32),
                "cluster_id": spaces.Discrete(cls.NUM_CLUSTERS),
            }
        )


class IETopicDocumentSampler(VectorizedDocumentSampler):
    """Draws a topic, then a quality ``lognormal(topic_quality_mean[topic], topic_quality_stddev[topic])``.

    Args:
        topic_distribution: the probability of each topic.
        topic_quality_mean: the lognormal mean (of the log) of each topic's quality.
        topic_quality_stddev: the lognormal sigma of each topic's quality.
        doc_ctor: the document class.
        seed: the sampler's seed.
    """

    def __init__(
        self,
        topic_distribution: Sequence[float] = (0.2, 0.8),
        topic_quality_mean: Sequence[float] = (0.8, 0.2),
        topic_quality_stddev: Sequence[float] = (0.1, 0.1),
        doc_ctor: type[IEDocument] = IEDocument,
        seed: SeedLike = 0,
    ) -> None:
        self._topic_dist = check_probabilities("topic_distribution", topic_distribution)
        self._number_of_topics = len(self._topic_dist)
        self._topic_quality_mean = _per_topic(
            "topic_quality_mean", topic_quality_mean, self._number_of_topics
        )
        self._topic_quality_stddev = _per_topic(
            "topic_quality_stddev", topic_quality_stddev, self._number_of_topics
        )
        self._cumulative = np.cumsum(self._topic_dist)
        self._cumulative[-1] = 1.0
        super().__init__(doc_ctor, seed=seed)

    @property
    def num_clusters(self) -> int:
        return self._number_of_topics

    def sample_candidates(
        self, num_candidates: int, user_state: AbstractUserState | None = None
    ) -> CandidateSet:
        del user_state
        topics = categorical(self._rng, self._cumulative, num_candidates)
        means, sigmas = self._topic_quality_mean.take(topics), self._topic_quality_stddev.take(topics)
        qualities = np.exp(means + sigmas * self._rng.standard_normal(num_candidates))
        # The agent gets its own arrays; documents are built from private copies.
        observation = {"quality": qualities.astype(np.float32), "cluster_id": topics.copy()}
        ctor = self._doc_ctor

        def make(doc_id: int, i: int) -> IEDocument:
            return ctor(doc_id, int(topics[i]), float(qualities[i]))

        return self._candidate_set(observation, num_candidates, make)


def _per_topic(name: str, values: Sequence[float], size: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (size,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must hold {size} finite numbers (one per topic), got {values!r}")
    return array


class IEUserState(AbstractUserState):
    """A user: a fixed, unobserved affinity per topic.

    Args:
        topic_affinity: the affinity for each topic.
    """

    def __init__(self, topic_affinity: np.ndarray) -> None:
        self.topic_affinity = np.asarray(topic_affinity, dtype=np.float64)

    def score_document(self, doc_obs: Mapping[str, Any]) -> float:
        """Affinity for the document's topic plus its quality."""
        return float(self.topic_affinity[int(doc_obs["cluster_id"])] + doc_obs["quality"])

    def score_documents(self, doc_obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The scores of stacked document observations."""
        return self.topic_affinity[doc_obs["cluster_id"]] + doc_obs["quality"]

    def create_observation(self) -> np.ndarray:
        """Nothing of the user is observable."""
        return np.zeros(0, dtype=np.float32)

    @classmethod
    def observation_space(cls) -> spaces.Box:
        return spaces.Box(low=0.0, high=np.inf, shape=(0,), dtype=np.float32)

    def __repr__(self) -> str:
        return f"IEUserState(topic_affinity={np.round(self.topic_affinity, 3)})"


class IEClusterUserSampler(AbstractUserSampler[IEUserState]):
    """Draws a user type, then an affinity ``lognormal(mean[type, topic], stddev[type, topic])`` per topic.

    Args:
        user_type_distribution: the probability of each user type.
        user_document_mean_affinity_matrix: types x topics lognormal means (of the log).
        user_document_stddev_affinity_matrix: types x topics lognormal sigmas.
        user_ctor: the user state class.
        seed: the sampler's seed.
    """

    def __init__(
        self,
        user_type_distribution: Sequence[float] = (0.3, 0.7),
        user_document_mean_affinity_matrix: Sequence[Sequence[float]] = ((0.1, 0.7), (0.7, 0.1)),
        user_document_stddev_affinity_matrix: Sequence[Sequence[float]] = ((0.1, 0.1), (0.1, 0.1)),
        user_ctor: type[IEUserState] = IEUserState,
        seed: SeedLike = 0,
    ) -> None:
        self._user_type_dist = check_probabilities("user_type_distribution", user_type_distribution)
        self._number_of_user_types = len(self._user_type_dist)
        self._user_doc_means = self._matrix(
            "user_document_mean_affinity_matrix", user_document_mean_affinity_matrix
        )
        self._user_doc_stddev = self._matrix(
            "user_document_stddev_affinity_matrix", user_document_stddev_affinity_matrix
        )
        if self._user_doc_means.shape != self._user_doc_stddev.shape:
            raise ValueError(
                f"the mean and stddev affinity matrices differ in shape: {self._user_doc_means.shape} vs "
                f"{self._user_doc_stddev.shape}"
            )
        self._cumulative = np.cumsum(self._user_type_dist)
        self._cumulative[-1] = 1.0
        super().__init__(user_ctor, seed=seed)

    def _matrix(self, name: str, values: Sequence[Sequence[float]]) -> np.ndarray:
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 2 or array.shape[0] != self._number_of_user_types or not np.all(np.isfinite(array)):
            raise ValueError(
                f"{name} must be a finite matrix with one row per user type ({self._number_of_user_types}), "
                f"got {values!r}"
            )
        return array

    def sample_user(self) -> IEUserState:
        user_type = int(categorical(self._rng, self._cumulative))
        affinity = self._rng.lognormal(self._user_doc_means[user_type], self._user_doc_stddev[user_type])
        return self._user_ctor(affinity)

    def avg_affinity_given_topic(self) -> np.ndarray:
        """The prior mean (of the log) affinity per topic, averaged over user types."""
        return self._user_type_dist @ self._user_doc_means


class IEResponse(FieldResponse):
    """Whether the user clicked a document, with its quality and topic.

    ``NUM_CLUSTERS`` is the number of topics (``create_environment`` subclasses it as needed).
    """

    NUM_CLUSTERS = 2
    FIELDS = {
        "click": ("clicked", np.int64),
        "quality": ("quality", np.float32),
        "cluster_id": ("cluster_id", np.int64),
    }

    def __init__(self, clicked: bool = False, quality: float = 0.0, cluster_id: int = 0) -> None:
        self.clicked, self.quality, self.cluster_id = clicked, quality, cluster_id

    @classmethod
    def response_space(cls) -> spaces.Dict:
        return spaces.Dict(
            {
                "click": spaces.Discrete(2),
                "quality": spaces.Box(0.0, IEDocument.MAX_QUALITY, shape=(), dtype=np.float32),
                "cluster_id": spaces.Discrete(cls.NUM_CLUSTERS),
            }
        )


class IEUserModel(StackedResponseUserModel, AbstractUserModel[IEUserState, IEResponse]):
    """A static user who clicks at most one document per slate through a choice model.

    Args:
        slate_size: the number of documents per slate.
        no_click_mass: the no-click score of the choice model (must be non-negative).
        choice_model_ctor: the choice model class, built with ``no_click_mass`` and the model's
            random stream.
        user_state_ctor: the user state class.
        response_model_ctor: the response class.
        seed: seeds the user sampler and the response stream (through independent child seeds).
        user_sampler: use this sampler instead of a default :class:`IEClusterUserSampler`.
    """

    def __init__(
        self,
        slate_size: int,
        no_click_mass: float = 5.0,
        choice_model_ctor: type[AbstractChoiceModel] = MultinomialLogitChoiceModel,
        user_state_ctor: type[IEUserState] = IEUserState,
        response_model_ctor: type[IEResponse] = IEResponse,
        seed: SeedLike = 0,
        user_sampler: AbstractUserSampler[IEUserState] | None = None,
    ) -> None:
        check_positive("no_click_mass", no_click_mass, allow_zero=True)
        sampler_seed, model_seed = child_seeds(seed, 2)  # as reset_sampler(seed) derives them
        if user_sampler is None:
            user_sampler = IEClusterUserSampler(user_ctor=user_state_ctor, seed=sampler_seed)
        super().__init__(response_model_ctor, user_sampler, slate_size, seed=model_seed)
        self._user_state_ctor = user_state_ctor
        self.choice_model = choice_model_ctor({"no_click_mass": no_click_mass}, rng=self._rng)

    @property
    def avg_user_state(self) -> IEUserState:
        """The user with the prior mean affinities."""
        return self._user_state_ctor(self._user_sampler.avg_affinity_given_topic())

    def is_terminal(self) -> bool:
        """Never: the session goes on until the caller stops it."""
        return False

    def update_state(self, slate_documents: Sequence[IEDocument], responses: Sequence[IEResponse]) -> None:
        """The user's state does not change."""
        del slate_documents, responses

    def simulate_response(self, documents: Sequence[IEDocument]) -> list[IEResponse]:
        """Scores the slate with the choice model; the chosen document (if any) is clicked."""
        ctor = self._response_model_ctor
        responses = [ctor(quality=doc.quality, cluster_id=doc.cluster_id) for doc in documents]
        doc_obs = {
            "quality": np.array([doc.quality for doc in documents]),
            "cluster_id": np.array([doc.cluster_id for doc in documents]),
        }
        self.choice_model.score_documents(self._user_state, doc_obs)
        selected = self.choice_model.choose_item()
        if selected is not None:
            responses[selected].clicked = True
        return responses


@functools.cache
def _with_clusters(base: type, num_clusters: int) -> type:
    """``base`` with ``NUM_CLUSTERS`` set (one class per count, so equal responses compare equal)."""
    if num_clusters == base.NUM_CLUSTERS:
        return base
    return type(base.__name__, (base,), {"NUM_CLUSTERS": num_clusters, "__module__": __name__})


def create_environment(env_config: Mapping[str, Any] | None = None, **overrides: Any) -> RecSimGymEnv:
    """Builds the interest exploration environment (RecSim's ``create_environment``).

    Keys (``env_config`` or keywords; see :data:`DEFAULT_CONFIG`): ``num_candidates``,
    ``slate_size``, ``resample_documents``, ``seed``, ``render_mode``, and the RecSim parameters
    ``no_click_mass`` (choice model), ``user_type_distribution``,
    ``user_document_mean_affinity_matrix``, ``user_document_stddev_affinity_matrix`` (user
    sampler), ``topic_distribution``, ``topic_quality_mean``, ``topic_quality_stddev`` (document
    sampler).
    """
    config, render_mode = merge_config("interest_exploration", DEFAULT_CONFIG, env_config, overrides)
    topics = len(config["topic_distribution"])
    document, response = _with_clusters(IEDocument, topics), _with_clusters(IEResponse, topics)
    document_sampler = IETopicDocumentSampler(
        config["topic_distribution"],
        config["topic_quality_mean"],
        config["topic_quality_stddev"],
        doc_ctor=document,
    )
    user_sampler = IEClusterUserSampler(
        config["user_type_distribution"],
        config["user_document_mean_affinity_matrix"],
        config["user_document_stddev_affinity_matrix"],
    )
    if user_sampler.avg_affinity_given_topic().shape != (topics,):
        raise ValueError(
            f"the affinity matrices have {user_sampler.avg_affinity_given_topic().shape[0]} topic columns but "
            f"topic_distribution has {topics} topics"
        )
    user_model = IEUserModel(
        config["slate_size"],
        no_click_mass=config["no_click_mass"],
        response_model_ctor=response,
        user_sampler=user_sampler,
    )
    raw = SingleUserEnvironment(
        user_model,
        document_sampler,
        config["num_candidates"],
        config["slate_size"],
        resample_documents=config["resample_documents"],
    )
    raw.reset_sampler(config["seed"])
    return RecSimGymEnv(
        raw,
        total_clicks_reward,
        aggregate_video_cluster_metrics,
        write_video_cluster_metrics,
        render_mode=render_mode,
    )
