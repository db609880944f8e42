"""Choice models: how a user picks one item of a slate, or none.

A choice model first scores the slate (:meth:`AbstractChoiceModel.score_documents`), which sets
:attr:`~AbstractChoiceModel.scores` (one per slate item) and
:attr:`~AbstractChoiceModel.score_no_click`; then :meth:`~AbstractChoiceModel.choose_item` draws
the chosen position, or ``None`` for no choice.

The models and their parameters are RecSim's (pass them as RecSim's ``choice_features`` dict or
as keywords):

* :class:`MultinomialLogitChoiceModel`: softmax over the user's scores and ``no_click_mass``.
* :class:`MultinomialProportionalChoiceModel`: proportional to ``score - min_normalizer``.
* :class:`ExponentialCascadeChoiceModel` / :class:`ProportionalCascadeChoiceModel`: the user
  inspects the slate in order, attends to each item with ``attention_prob`` and takes it with
  probability ``score_scaling * f(score)``.

Fixed RecSim quirks: draws come from an explicit ``numpy.random.Generator`` (RecSim used the
global RNG); bad scores raise ``ValueError`` naming them (RecSim's ``assert not scores[scores < 0]``
was skipped under ``python -O`` and errored ambiguously for several negatives); scores are computed
vectorized when the user state defines ``score_documents``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "AbstractChoiceModel",
    "NormalizableChoiceModel",
    "MultinomialLogitChoiceModel",
    "MultinomialProportionalChoiceModel",
    "CascadeChoiceModel",
    "ExponentialCascadeChoiceModel",
    "ProportionalCascadeChoiceModel",
    "user_scores",
]


class AbstractChoiceModel(abc.ABC):
    """Scores a slate for a user and draws the chosen item.

    Args:
        choice_features: RecSim-style parameter dict (merged with ``params``).
        rng: the Generator to draw choices from, typically the user model's ``rng`` so that
            choices follow the environment's seeding. It may be set later (``model.rng = ...``),
            but drawing without one is an error rather than a silently unseeded stream.
        **params: the model's parameters as keywords.
    """

    #: The parameters this model accepts, with their defaults.
    PARAMETERS: Mapping[str, float | None] = {}

    _scores: np.ndarray | None = None
    _score_no_click: float | None = None

    def __init__(
        self,
        choice_features: Mapping[str, Any] | None = None,
        *,
        rng: np.random.Generator | None = None,
        **params: Any,
    ) -> None:
        merged = {**(choice_features or {}), **params}
        unknown = sorted(set(merged) - set(self.PARAMETERS))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} got unknown parameter(s) {unknown}; expected some of "
                f"{sorted(self.PARAMETERS)}"
            )
        self._params = {**self.PARAMETERS, **merged}
        self._rng = rng

    @property
    def rng(self) -> np.random.Generator:
        """The Generator choices are drawn from."""
        if self._rng is None:
            raise RuntimeError(
                f"{type(self).__name__} has no random generator: construct it with rng=... (typically the "
                "user model's self.rng, so choices follow env.reset(seed=...))"
            )
        return self._rng

    @rng.setter
    def rng(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def _param(self, name: str, required: bool = False) -> Any:
        value = self._params[name]
        if required and value is None:
            raise ValueError(f"{type(self).__name__} needs the parameter {name!r}")
        return value

    @property
    def scores(self) -> np.ndarray | None:
        """The scores of the slate items from the last :meth:`score_documents`."""
        return self._scores

    @property
    def score_no_click(self) -> float | None:
        """The score of choosing nothing from the last :meth:`score_documents`."""
        return self._score_no_click

    @abc.abstractmethod
    def score_documents(self, user_state: Any, doc_obs: Any) -> None:
        """Scores the slate's document observations (stacked array or sequence) for ``user_state``."""

    @abc.abstractmethod
    def choose_item(self) -> int | None:
        """Draws the chosen slate position, or ``None`` when the user chooses nothing."""


def user_scores(user_state: Any, doc_obs: Any) -> np.ndarray:
    """The user's affinity for each document, vectorized when the user state supports it."""
    vectorized = getattr(user_state, "score_documents", None)
    if vectorized is not None:
        return np.asarray(vectorized(doc_obs), dtype=np.float64)
    return np.array([user_state.score_document(obs) for obs in doc_obs], dtype=np.float64)


class NormalizableChoiceModel(AbstractChoiceModel):
    """Chooses each item, or no click, with probability proportional to its (non-negative) score."""

    @staticmethod
    def _score_documents_helper(user_state: Any, doc_obs: Any) -> np.ndarray:
        return user_scores(user_state, doc_obs)

    def choose_item(self) -> int | None:
        if self._scores is None:
            raise RuntimeError("choose_item() called before score_documents()")
        cumulative = self._scores.cumsum()  # array methods skip numpy's Python-level wrappers
        total = cumulative[-1] + self._score_no_click if len(cumulative) else self._score_no_click
        if not total > 0:
            raise ValueError(
                f"cannot choose: scores {self._scores} and no-click score {self._score_no_click} sum to {total}"
            )
        index = int(cumulative.searchsorted(self.rng.random() * total, side="right"))
        return index if index < len(cumulative) else None


def _with_no_click(scores: np.ndarray, no_click: float) -> np.ndarray:
    """``scores`` with the no-click score appended (cheaper than ``np.append`` on tiny arrays)."""
    combined = np.empty(len(scores) + 1)
    combined[:-1] = scores
    combined[-1] = no_click
    return combined


def _check_non_negative(model: AbstractChoiceModel, scores: np.ndarray, what: str) -> None:
    # min/max comparisons are False for NaN, so one pair of reductions covers NaN, inf and negatives
    if scores.size and not (scores.min() >= 0 and scores.max() < np.inf):
        raise ValueError(
            f"{type(model).__name__}: {what} must be finite and non-negative after normalization, got {scores}"
        )


class MultinomialLogitChoiceModel(NormalizableChoiceModel):
    """Multinomial logit: P(item i) is proportional to exp(score_i), no click to exp(no_click_mass).

    Parameters: ``no_click_mass`` (default ``-inf``: the user always clicks something).
    """

    PARAMETERS = {"no_click_mass": -np.inf}

    def score_documents(self, user_state: Any, doc_obs: Any) -> None:
        logits = _with_no_click(
            self._score_documents_helper(user_state, doc_obs), self._param("no_click_mass")
        )
        logits -= logits.max()
        probs = np.exp(logits, out=logits)
        probs /= probs.sum()
        self._scores = probs[:-1]
        self._score_no_click = float(probs[-1])


class MultinomialProportionalChoiceModel(NormalizableChoiceModel):
    """P(item i) is proportional to score_i - min_normalizer; no click to no_click_mass - min_normalizer.

    Parameters: ``min_normalizer`` (required), ``no_click_mass`` (default 0).
    """

    PARAMETERS = {"min_normalizer": None, "no_click_mass": 0.0}

    def score_documents(self, user_state: Any, doc_obs: Any) -> None:
        min_normalizer = self._param("min_normalizer", required=True)
        all_scores = _with_no_click(
            self._score_documents_helper(user_state, doc_obs), self._param("no_click_mass")
        )
        all_scores -= min_normalizer
        _check_non_negative(self, all_scores, "scores (with no-click last)")
        self._scores = all_scores[:-1]
        self._score_no_click = float(all_scores[-1])


class CascadeChoiceModel(NormalizableChoiceModel):
    """The user scans the slate in order and takes the first item they attend to and like.

    Item i is taken with probability ``attention_prob * score_scaling * f(score_i)`` given that no
    earlier item was; ``score_no_click`` is the probability of taking none.

    Parameters: ``attention_prob`` in [0, 1] (default 1), ``score_scaling`` >= 0 (required).
    """

    PARAMETERS = {"attention_prob": 1.0, "score_scaling": None}

    def __init__(self, choice_features: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(choice_features, **kwargs)
        attention = self._param("attention_prob")
        scaling = self._param("score_scaling", required=True)
        if not 0.0 <= attention <= 1.0:
            raise ValueError(f"attention_prob must be in [0, 1], got {attention}")
        if not scaling >= 0.0:
            raise ValueError(f"score_scaling must be non-negative, got {scaling}")

    def _positional_normalization(self, scores: np.ndarray) -> None:
        take = self._param("attention_prob") * self._param("score_scaling") * scores
        if np.any(take > self._param("attention_prob")) or not np.all(np.isfinite(take)):
            raise ValueError(
                f"{type(self).__name__}: score_scaling={self._param('score_scaling')} does not turn scores "
                f"{scores} into probabilities (score_scaling * score must be <= 1)"
            )
        survive = np.cumprod(np.concatenate(([1.0], 1.0 - take)))
        self._scores = survive[:-1] * take
        self._score_no_click = float(survive[-1])


class ExponentialCascadeChoiceModel(CascadeChoiceModel):
    """Cascade with f(score) = exp(score)."""

    def score_documents(self, user_state: Any, doc_obs: Any) -> None:
        self._positional_normalization(np.exp(self._score_documents_helper(user_state, doc_obs)))


class ProportionalCascadeChoiceModel(CascadeChoiceModel):
    """Cascade with f(score) = score - min_normalizer.

    Parameters: as :class:`CascadeChoiceModel`, plus ``min_normalizer`` (required).
    """

    PARAMETERS = {**CascadeChoiceModel.PARAMETERS, "min_normalizer": None}

    def score_documents(self, user_state: Any, doc_obs: Any) -> None:
        scores = self._score_documents_helper(user_state, doc_obs) - self._param(
            "min_normalizer", required=True
        )
        _check_non_negative(self, scores, "scores")
        self._positional_normalization(scores)
