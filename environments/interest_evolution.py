"""Interest evolution: RecSim's video-watching environment with drifting user interests.

A port of RecSim's ``recsim.environments.interest_evolution`` with the same components, names,
default parameters and dynamics:

* **Videos** (:class:`IEvVideo`, drawn by :class:`UtilityModelVideoSampler`) belong to one of 20
  clusters; the observation is the one-hot encoding of the cluster. A video's quality is
  ``N(mean[cluster], 0.1)`` where the cluster means run linearly from ``min_utility`` (-3) to 0
  over the first 14 ("trashy") clusters and from 0 to ``max_utility`` (3) over the last 6
  ("nutritious") ones. Every video lasts ``video_length`` (4) minutes.
* **Users** (:class:`IEvUserState`, drawn by :class:`UtilityModelUserSampler`) have interests
  ``U(-1, 1)`` per cluster and a time budget of 200 minutes.
* **Choice**: multinomial proportional over the slate with ``min_normalizer=-1`` and
  ``no_click_mass=1``: item *i* is clicked with probability proportional to
  ``interest . features_i + 1``, nothing with probability proportional to 2.
* **Transition** (:class:`IEvUserModel`): a click watches ``min(time_budget, video_length)``
  minutes; the budget loses the watch time and gets back ``0.9 / 3.4 * watch_time * quality``.
  The interest in the clicked video's features moves by ``alpha * features * (features -
  interest)`` with ``alpha = 0.3 - 0.3 * |interest|``, towards the video with probability
  ``(interest . features + 1) / 2``, else away, then is clipped to [-1, 1]. No click costs
  ``step_penalty`` (0.5) minutes. The session ends when the budget is spent.
* **Reward**: :func:`clicked_watchtime_reward`, the minutes watched.

RecSim quirks kept (for parity): the user observation is the user's interest vector (RecSim
exposes the latent interests); the choice model's parameters come from the first sampled user's
``choice_features``; ``user_quality_factor`` is 0, so a clicked video's expected utility does not
affect the budget; only the first clicked response updates the state; ``liked`` is never set;
the two middle cluster means are both 0; the quality noise is called a variance but used as a
standard deviation (0.1); :class:`IEvVideoSampler`'s dense features can push affinities below the
proportional model's ``min_normalizer`` (RecSim's assertion failed; here a ValueError names the
scores), so those videos need a logit choice model.

RecSim quirks fixed: the interest update's coin flip used the global numpy RNG (now the user
model's seeded stream, so runs are reproducible); the user observation aliased the user's
interest array, so an in-place update changed observations already handed out (now a copy);
the user and document samplers were seeded with the same seed and so drew from identical
streams (now independent child seeds); documents were keyed by ever-growing ids (now stacked by
candidate position); bad slates (repeated, negative, out-of-range, too short) were accepted
silently (now they raise); ``IEvVideoSampler`` documents had no cluster id, so their responses
could not be observed (now cluster 0); observations are float32 as their spaces declare.

Example:
    >>> import gymnasium as gym, recframe
    >>> env = gym.make("recframe/InterestEvolution-v0", slate_size=2, num_candidates=10)
    >>> obs, _ = env.reset(seed=0)
    >>> obs["doc"].shape
    (10, 20)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from recframe.choice_model import AbstractChoiceModel, MultinomialProportionalChoiceModel
from recframe.document import AbstractDocument, CandidateSet
from recframe.environments._recsim_common import (
    COMMON_DEFAULTS,
    FieldResponse,
    StackedResponseUserModel,
    VectorizedDocumentSampler,
    aggregate_video_cluster_metrics,
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
    "IEvResponse",
    "IEvVideo",
    "IEvVideoSampler",
    "UtilityModelVideoSampler",
    "IEvUserState",
    "IEvUserDistributionSampler",
    "UtilityModelUserSampler",
    "IEvUserModel",
    "clicked_watchtime_reward",
    "total_clicks_reward",
    "create_environment",
]

#: ``create_environment``'s keys and defaults (RecSim's defaults).
DEFAULT_CONFIG: dict[str, Any] = {
    **COMMON_DEFAULTS,
    "no_click_mass": 1.0,
    "min_normalizer": -1.0,
    "document_quality_factor": 1.0,
    "min_utility": -3.0,
    "max_utility": 3.0,
    "video_length": 4.0,
    "alpha_x_intercept": 1.0,
    "alpha_y_intercept": 0.3,
}


class IEvVideo(AbstractDocument):
    """A video: topic features, cluster, length (minutes) and quality.

    Args:
        doc_id: the video's id.
        features: the ``NUM_FEATURES`` topic features in [-1, 1].
        cluster_id: the video's cluster.
        video_length: the length in minutes.
        quality: the quality ("trashy" < 0 < "nutritious").
    """

    MAX_VIDEO_LENGTH = 100.0
    NUM_FEATURES = 20

    def __init__(
        self,
        doc_id: int,
        features: np.ndarray,
        cluster_id: int | None = None,
        video_length: float | None = None,
        quality: float | None = None,
    ) -> None:
        super().__init__(doc_id)
        self.features = features
        self.cluster_id = cluster_id
        self.video_length = video_length
        self.quality = quality

    def create_observation(self) -> np.ndarray:
        return np.asarray(self.features, dtype=np.float32)

    @classmethod
    def observation_space(cls) -> spaces.Box:
        return spaces.Box(low=-1.0, high=1.0, shape=(cls.NUM_FEATURES,), dtype=np.float32)


class IEvResponse(FieldResponse):
    """A user's response to one video of the slate.

    Args:
        clicked: whether the video was clicked.
        watch_time: minutes watched.
        liked: whether the video was liked (never set by :class:`IEvUserModel`, as in RecSim).
        quality: the video's quality.
        cluster_id: the video's cluster.
    """

    MIN_QUALITY_SCORE = -100.0
    MAX_QUALITY_SCORE = 100.0
    FIELDS = {
        "click": ("clicked", np.int64),
        "watch_time": ("watch_time", np.float32),
        "liked": ("liked", np.int64),
        "quality": ("quality", np.float32),
        "cluster_id": ("cluster_id", np.int64),
    }

    def __init__(
        self,
        clicked: bool = False,
        watch_time: float = 0.0,
        liked: bool = False,
        quality: float = 0.0,
        cluster_id: int = 0,
    ) -> None:
        self.clicked, self.watch_time, self.liked = clicked, watch_time, liked
        self.quality, self.cluster_id = quality, cluster_id

    @classmethod
    def response_space(cls) -> spaces.Dict:
        quality = spaces.Box(cls.MIN_QUALITY_SCORE, cls.MAX_QUALITY_SCORE, shape=(), dtype=np.float32)
        return spaces.Dict(
            {
                "click": spaces.Discrete(2),
                "watch_time": spaces.Box(0.0, IEvVideo.MAX_VIDEO_LENGTH, shape=(), dtype=np.float32),
                "liked": spaces.Discrete(2),
                "quality": quality,
                "cluster_id": spaces.Discrete(IEvVideo.NUM_FEATURES),
            }
        )


class IEvVideoSampler(VectorizedDocumentSampler):
    """Videos with ``U(min_feature_value, max_feature_value)`` features, normal length, quality 1.

    Dense features make affinities fall below the proportional choice model's ``min_normalizer``
    of -1 (it then raises a ValueError naming the scores; RecSim's assertion failed), so pair
    these videos with a :class:`~recframe.choice_model.MultinomialLogitChoiceModel`.

    Args:
        doc_ctor: the video class.
        min_feature_value, max_feature_value: the range of the features.
        video_length_mean, video_length_std: the length's normal distribution (capped at
            ``MAX_VIDEO_LENGTH``).
        seed: the sampler's seed.
    """

    def __init__(
        self,
        doc_ctor: type[IEvVideo] = IEvVideo,
        min_feature_value: float = -1.0,
        max_feature_value: float = 1.0,
        video_length_mean: float = 4.3,
        video_length_std: float = 1.0,
        seed: SeedLike = 0,
    ) -> None:
        self._min_feature_value, self._max_feature_value = min_feature_value, max_feature_value
        self._video_length_mean, self._video_length_std = video_length_mean, video_length_std
        super().__init__(doc_ctor, seed=seed)

    def sample_candidates(
        self, num_candidates: int, user_state: AbstractUserState | None = None
    ) -> CandidateSet:
        del user_state
        ctor, n = self._doc_ctor, num_candidates
        features = self._rng.uniform(self._min_feature_value, self._max_feature_value, (n, ctor.NUM_FEATURES))
        lengths = np.minimum(
            self._rng.normal(self._video_length_mean, self._video_length_std, n), ctor.MAX_VIDEO_LENGTH
        )

        def make(doc_id: int, i: int) -> IEvVideo:
            return ctor(doc_id, features[i], 0, float(lengths[i]), 1.0)

        return self._candidate_set(features.astype(np.float32), n, make)


class UtilityModelVideoSampler(VectorizedDocumentSampler):
    """RecSim's utility-model videos: a uniform cluster, one-hot features, quality around the cluster mean.

    Args:
        doc_ctor: the video class (its ``NUM_FEATURES`` is the number of clusters).
        min_utility: the mean quality of cluster 0.
        max_utility: the mean quality of the last cluster.
        video_length: every video's length in minutes.
        seed: the sampler's seed.
    """

    #: The standard deviation of a video's quality around its cluster mean.
    QUALITY_STDDEV = 0.1

    def __init__(
        self,
        doc_ctor: type[IEvVideo] = IEvVideo,
        min_utility: float = -3.0,
        max_utility: float = 3.0,
        video_length: float = 4.0,
        seed: SeedLike = 0,
    ) -> None:
        self._num_clusters = doc_ctor.NUM_FEATURES
        if not 0.0 < video_length <= doc_ctor.MAX_VIDEO_LENGTH:
            raise ValueError(
                f"video_length must be in (0, {doc_ctor.MAX_VIDEO_LENGTH}], got {video_length!r}"
            )
        if not min_utility <= 0.0 <= max_utility:
            raise ValueError(f"need min_utility <= 0 <= max_utility, got {min_utility!r} and {max_utility!r}")
        self._min_utility, self._max_utility, self._video_length = min_utility, max_utility, video_length
        trashy = np.linspace(min_utility, 0.0, int(self._num_clusters * 0.7))
        nutritious = np.linspace(0.0, max_utility, int(self._num_clusters * 0.3))
        self.cluster_means = np.concatenate((trashy, nutritious))
        if len(self.cluster_means) != self._num_clusters:
            raise ValueError(
                f"{self._num_clusters} clusters do not split into 70% trashy and 30% nutritious ones; "
                "use a multiple of 10 for NUM_FEATURES"
            )
        self._one_hot = np.eye(self._num_clusters)
        self._one_hot.setflags(write=False)  # videos share its rows as read-only feature vectors
        self._one_hot32 = self._one_hot.astype(np.float32)
        super().__init__(doc_ctor, seed=seed)

    @property
    def num_clusters(self) -> int:
        return self._num_clusters

    def sample_candidates(
        self, num_candidates: int, user_state: AbstractUserState | None = None
    ) -> CandidateSet:
        del user_state
        # floor(U * K) is uniform on 0..K-1 (up to 2**-53) and much cheaper than rng.integers.
        clusters = (self._rng.random(num_candidates) * self._num_clusters).astype(np.intp)
        noise = self._rng.standard_normal(num_candidates)
        qualities = self.cluster_means.take(clusters) + self.QUALITY_STDDEV * noise
        ctor, one_hot, length = self._doc_ctor, self._one_hot, self._video_length

        def make(doc_id: int, i: int) -> IEvVideo:
            cluster = int(clusters[i])
            return ctor(doc_id, one_hot[cluster], cluster, length, float(qualities[i]))

        return self._candidate_set(self._one_hot32.take(clusters, axis=0), num_candidates, make)


class IEvUserState(AbstractUserState):
    """An interest-evolution user: interests per topic, time budget and behaviour parameters.

    Only ``user_interests`` is required; the others are what :class:`IEvUserModel` and the
    choice model read (see RecSim's documentation of the same fields).
    """

    NUM_FEATURES = 20

    def __init__(
        self,
        user_interests: np.ndarray,
        time_budget: float | None = None,
        score_scaling: float | None = None,
        attention_prob: float | None = None,
        no_click_mass: float | None = None,
        keep_interact_prob: float | None = None,
        min_doc_utility: float | None = None,
        user_update_alpha: float | None = None,
        watched_videos: set[int] | None = None,
        impressed_videos: set[int] | None = None,
        liked_videos: set[int] | None = None,
        step_penalty: float | None = None,
        min_normalizer: float | None = None,
        user_quality_factor: float | None = None,
        document_quality_factor: float | None = None,
    ) -> None:
        self.user_interests = np.asarray(user_interests, dtype=np.float64)
        self.time_budget = time_budget
        self.keep_interact_prob = keep_interact_prob
        self.min_doc_utility = min_doc_utility
        self.choice_features = {
            "score_scaling": score_scaling,
            "attention_prob": attention_prob,
            "no_click_mass": no_click_mass,
            "min_normalizer": min_normalizer,
        }
        self.user_update_alpha = user_update_alpha
        self.step_penalty = step_penalty
        self.user_quality_factor = user_quality_factor
        self.document_quality_factor = document_quality_factor
        self.watched_videos = watched_videos
        self.impressed_videos = impressed_videos
        self.liked_videos = liked_videos

    def score_document(self, doc_obs: np.ndarray) -> float:
        """The user's affinity for one video: interests . features."""
        if self.user_interests.shape != np.shape(doc_obs):
            raise ValueError(
                f"user interests have shape {self.user_interests.shape} but the document observation has "
                f"shape {np.shape(doc_obs)}"
            )
        return float(np.dot(self.user_interests, doc_obs))

    def score_documents(self, doc_obs: np.ndarray) -> np.ndarray:
        """The affinities for stacked video observations (one row per video)."""
        return np.asarray(doc_obs, dtype=np.float64) @ self.user_interests

    def create_observation(self) -> np.ndarray:
        """The interests (a float32 copy: later updates never change an observation handed out)."""
        return self.user_interests.astype(np.float32)

    @classmethod
    def observation_space(cls) -> spaces.Box:
        return spaces.Box(low=-1.0, high=1.0, shape=(cls.NUM_FEATURES,), dtype=np.float32)

    def __repr__(self) -> str:
        return f"IEvUserState(time_budget={self.time_budget:.4g}, user_interests={np.round(self.user_interests, 3)})"


class IEvUserDistributionSampler(AbstractUserSampler[IEvUserState]):
    """RecSim's simpler users: ``U(-1, 1)`` interests, a 30-minute budget, no interest drift."""

    def sample_user(self) -> IEvUserState:
        return self._user_ctor(
            user_interests=self._rng.uniform(-1.0, 1.0, self._user_ctor.NUM_FEATURES),
            time_budget=30.0,
            score_scaling=0.05,
            attention_prob=0.9,
            no_click_mass=1.0,
            keep_interact_prob=float(self._rng.beta(1, 3)),
            min_doc_utility=0.1,
            user_update_alpha=0.0,
            watched_videos=set(),
            impressed_videos=set(),
            liked_videos=set(),
            step_penalty=1.0,
            min_normalizer=-1.0,
            user_quality_factor=1.0,
            document_quality_factor=1.0,
        )


class UtilityModelUserSampler(AbstractUserSampler[IEvUserState]):
    """RecSim's utility-model users: ``U(-1, 1)`` interests, a 200-minute budget, fixed behaviour.

    Args:
        user_ctor: the user state class.
        document_quality_factor: weight of a watched video's quality in the budget update.
        no_click_mass: the choice model's no-click score.
        min_normalizer: subtracted from every score by the proportional choice model.
        seed: the sampler's seed.
    """

    def __init__(
        self,
        user_ctor: type[IEvUserState] = IEvUserState,
        document_quality_factor: float = 1.0,
        no_click_mass: float = 1.0,
        min_normalizer: float = -1.0,
        seed: SeedLike = 0,
    ) -> None:
        self._document_quality_factor = document_quality_factor
        self._no_click_mass = no_click_mass
        self._min_normalizer = min_normalizer
        super().__init__(user_ctor, seed=seed)

    def sample_user(self) -> IEvUserState:
        # Quality ~ N([-3, 3], 0.1) lies within [-3.4, 3.4]; scaling by 1 / 3.4 maps it to [-1, 1],
        # and a watched video can extend (or cut) the budget by up to 0.9 of its length.
        return self._user_ctor(
            user_interests=self._rng.uniform(-1.0, 1.0, self._user_ctor.NUM_FEATURES),
            time_budget=200.0,
            no_click_mass=self._no_click_mass,
            step_penalty=0.5,
            score_scaling=0.05,
            attention_prob=0.65,
            min_normalizer=self._min_normalizer,
            user_quality_factor=0.0,
            document_quality_factor=self._document_quality_factor,
            user_update_alpha=0.9 / 3.4,
        )


class IEvUserModel(StackedResponseUserModel, AbstractUserModel[IEvUserState, IEvResponse]):
    """Clicks through a choice model, watches, and drifts its interests towards or away from videos.

    Args:
        slate_size: the number of videos per slate.
        choice_model_ctor: the choice model class; built from the user's ``choice_features``
            (the ones it accepts) and the model's random stream.
        response_model_ctor: the response class.
        user_state_ctor: the user state class.
        no_click_mass: the no-click score given to the default user sampler.
        seed: seeds the user sampler and the response stream (through independent child seeds).
        alpha_x_intercept, alpha_y_intercept: the interest step size is
            ``y_intercept - y_intercept / x_intercept * |interest|``.
        user_sampler: use this sampler instead of a :class:`UtilityModelUserSampler`.
    """

    def __init__(
        self,
        slate_size: int,
        choice_model_ctor: type[AbstractChoiceModel] | None = None,
        response_model_ctor: type[IEvResponse] = IEvResponse,
        user_state_ctor: type[IEvUserState] = IEvUserState,
        no_click_mass: float = 1.0,
        seed: SeedLike = 0,
        alpha_x_intercept: float = 1.0,
        alpha_y_intercept: float = 0.3,
        user_sampler: AbstractUserSampler[IEvUserState] | None = None,
    ) -> None:
        if choice_model_ctor is None:
            raise ValueError(
                "IEvUserModel needs a choice_model_ctor (RecSim uses MultinomialProportionalChoiceModel)"
            )
        sampler_seed, model_seed = child_seeds(seed, 2)  # as reset_sampler(seed) derives them
        if user_sampler is None:
            user_sampler = UtilityModelUserSampler(
                user_state_ctor, no_click_mass=no_click_mass, seed=sampler_seed
            )
        super().__init__(response_model_ctor, user_sampler, slate_size, seed=model_seed)
        accepted = getattr(choice_model_ctor, "PARAMETERS", None)
        features = self._user_state.choice_features
        if accepted is not None:
            features = {
                key: value for key, value in features.items() if key in accepted and value is not None
            }
        self.choice_model = choice_model_ctor(features, rng=self._rng)
        if not alpha_x_intercept:
            raise ValueError(
                f"alpha_x_intercept must be non-zero (it divides the step size), got {alpha_x_intercept!r}"
            )
        self._alpha_x_intercept = float(alpha_x_intercept)
        self._alpha_y_intercept = float(alpha_y_intercept)

    def is_terminal(self) -> bool:
        return self._user_state.time_budget <= 0

    def simulate_response(self, documents: Sequence[IEvVideo]) -> list[IEvResponse]:
        """Scores the slate with the choice model; the chosen video (if any) is clicked and watched."""
        ctor = self._response_model_ctor
        responses = [ctor(quality=doc.quality, cluster_id=doc.cluster_id) for doc in documents]
        doc_obs = np.array([doc.features for doc in documents], dtype=np.float64)
        self.choice_model.score_documents(self._user_state, doc_obs)
        selected = self.choice_model.choose_item()
        if selected is not None:
            response = responses[selected]
            response.clicked = True
            response.watch_time = min(self._user_state.time_budget, documents[selected].video_length)
        return responses

    def update_state(self, slate_documents: Sequence[IEvVideo], responses: Sequence[IEvResponse]) -> None:
        """Moves the interests and the budget after the first click, or charges the step penalty."""
        state = self._user_state
        for doc, response in zip(slate_documents, responses):
            if not response.clicked:
                continue
            mask = np.asarray(doc.features, dtype=np.float64)
            expected_utility = 0.0
            if state.user_quality_factor:  # RecSim: the choice probability of the video shown alone
                self.choice_model.score_documents(state, mask[None, :])
                score = float(self.choice_model.scores[0])
                expected_utility = score / (score + float(self.choice_model.score_no_click))
            self._update_interests(state, mask)
            received_utility = (
                state.user_quality_factor * expected_utility + state.document_quality_factor * doc.quality
            )
            state.time_budget -= response.watch_time
            state.time_budget += state.user_update_alpha * response.watch_time * received_utility
            return
        state.time_budget -= state.step_penalty

    def _update_interests(self, state: IEvUserState, mask: np.ndarray) -> None:
        """Steps the interests towards (or away from) the watched video's features, in place."""
        slope, intercept = -self._alpha_y_intercept / self._alpha_x_intercept, self._alpha_y_intercept
        interests = state.user_interests
        support = mask.nonzero()[0]
        if len(support) == 1:  # one-hot videos: only one interest moves; plain floats are faster
            j = int(support[0])
            m, x = float(mask[j]), float(interests[j])
            update = (slope * abs(x) + intercept) * m * (m - x)
            x = x + update if self._rng.random() < (x + 1.0) / 2.0 * m else x - update
            interests[j] = min(max(x, -1.0), 1.0)
            return
        update = (slope * np.abs(interests) + intercept) * mask * (mask - interests)
        if self._rng.random() < float(np.dot((interests + 1.0) / 2.0, mask)):
            interests = interests + update
        else:
            interests = interests - update
        state.user_interests = np.clip(interests, -1.0, 1.0)


def clicked_watchtime_reward(responses: Sequence[IEvResponse]) -> float:
    """The minutes watched of the clicked videos."""
    return float(sum(response.watch_time for response in responses if response.clicked))


def create_environment(env_config: Mapping[str, Any] | None = None, **overrides: Any) -> RecSimGymEnv:
    """Builds the interest evolution environment (RecSim's ``create_environment``).

    Keys (``env_config`` or keywords; see :data:`DEFAULT_CONFIG`): ``num_candidates``,
    ``slate_size``, ``resample_documents``, ``seed``, ``render_mode``, and the RecSim parameters
    ``no_click_mass``, ``min_normalizer``, ``document_quality_factor`` (user sampler),
    ``min_utility``, ``max_utility``, ``video_length`` (video sampler), ``alpha_x_intercept``,
    ``alpha_y_intercept`` (interest step size).
    """
    config, render_mode = merge_config("interest_evolution", DEFAULT_CONFIG, env_config, overrides)
    seed = config["seed"]
    user_sampler = UtilityModelUserSampler(
        IEvUserState,
        document_quality_factor=config["document_quality_factor"],
        no_click_mass=config["no_click_mass"],
        min_normalizer=config["min_normalizer"],
    )
    user_model = IEvUserModel(
        config["slate_size"],
        choice_model_ctor=MultinomialProportionalChoiceModel,
        alpha_x_intercept=config["alpha_x_intercept"],
        alpha_y_intercept=config["alpha_y_intercept"],
        user_sampler=user_sampler,
    )
    document_sampler = UtilityModelVideoSampler(
        IEvVideo,
        min_utility=config["min_utility"],
        max_utility=config["max_utility"],
        video_length=config["video_length"],
    )
    raw = SingleUserEnvironment(
        user_model,
        document_sampler,
        config["num_candidates"],
        config["slate_size"],
        resample_documents=config["resample_documents"],
    )
    raw.reset_sampler(seed)
    return RecSimGymEnv(
        raw,
        clicked_watchtime_reward,
        aggregate_video_cluster_metrics,
        write_video_cluster_metrics,
        render_mode=render_mode,
    )
