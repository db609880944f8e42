"""Helpers shared by the ports of RecSim's reference environments.

* :func:`merge_config` validates an environment's ``create_environment`` configuration.
* :class:`LazyDocuments` is a sequence of candidate documents built from column arrays on first
  access, so a vectorized sampler creates Python objects only for the documents put on a slate.
* :class:`VectorizedDocumentSampler` is a document sampler that draws a whole candidate set with
  a few numpy calls and hands it out as a :class:`LazyDocuments` candidate set.
* :class:`FieldResponse` is a response observed as a dict of its attributes, stacked directly.
* :func:`categorical` draws categories from cumulative probabilities without ``rng.choice(p=)``.
* :func:`aggregate_video_cluster_metrics` and :func:`write_video_cluster_metrics` are RecSim's
  click / quality / cluster metrics.
"""

from __future__ import annotations

import abc
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar, overload

import numpy as np

from recframe.document import AbstractDocument, AbstractDocumentSampler, CandidateSet
from recframe.seeding import SeedLike
from recframe.user import AbstractResponse, AbstractUserModel, AbstractUserState

__all__ = [
    "COMMON_DEFAULTS",
    "merge_config",
    "check_probabilities",
    "check_positive",
    "LazyDocuments",
    "VectorizedDocumentSampler",
    "FieldResponse",
    "StackedResponseUserModel",
    "total_clicks_reward",
    "categorical",
    "aggregate_video_cluster_metrics",
    "write_video_cluster_metrics",
]

#: The keys every reference environment takes, with RecSim's example values.
COMMON_DEFAULTS: dict[str, Any] = {
    "num_candidates": 10,
    "slate_size": 2,
    "resample_documents": True,
    "seed": 0,
}


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def merge_config(
    env_name: str,
    defaults: Mapping[str, Any],
    env_config: Mapping[str, Any] | None,
    overrides: Mapping[str, Any],
) -> tuple[dict[str, Any], str | None]:
    """Merges ``defaults``, ``env_config`` and keyword ``overrides`` and validates the common keys.

    Returns:
        ``(config, render_mode)``; ``config`` holds exactly the keys of ``defaults``.

    Raises:
        ValueError: for an unknown key, a non-positive or non-integer ``num_candidates`` /
            ``slate_size``, ``slate_size > num_candidates`` or a non-boolean ``resample_documents``.
    """
    if env_config is not None and not isinstance(env_config, Mapping):
        raise TypeError(
            f"env_config must be a mapping or None, got {type(env_config).__name__}: {env_config!r}"
        )
    config = {**defaults, **(env_config or {}), **overrides}
    render_mode = config.pop("render_mode", None)
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(f"unknown {env_name} config key(s) {unknown}; expected some of {sorted(defaults)}")
    config["num_candidates"] = _check_count("num_candidates", config["num_candidates"])
    config["slate_size"] = _check_count("slate_size", config["slate_size"])
    if config["slate_size"] > config["num_candidates"]:
        raise ValueError(
            f"slate_size ({config['slate_size']}) must not exceed num_candidates ({config['num_candidates']})"
        )
    if not isinstance(config["resample_documents"], bool | np.bool_):
        raise ValueError(f"resample_documents must be a bool, got {config['resample_documents']!r}")
    for key, default in defaults.items():
        value = config[key]
        if key not in COMMON_DEFAULTS and isinstance(default, int | float) and not _is_real(value):
            raise ValueError(f"{env_name} config key {key!r} must be a finite number, got {value!r}")
    return config, render_mode


def _is_real(value: Any) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float | np.integer | np.floating)
        and math.isfinite(value)
    )


def check_probabilities(name: str, values: Any) -> np.ndarray:
    """Returns ``values`` as a 1-D float array, or raises ValueError unless it is a distribution."""
    array = np.asarray(values, dtype=np.float64)
    if (
        array.ndim != 1
        or array.size == 0
        or np.any(array < 0)
        or not math.isclose(array.sum(), 1.0, rel_tol=1e-9)
    ):
        raise ValueError(
            f"{name} must be a non-empty 1-D array of probabilities summing to 1, got {values!r}"
        )
    return array


def check_positive(name: str, value: Any, allow_zero: bool = False) -> float:
    """Returns ``value`` as a float, or raises ValueError unless it is finite and positive."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a finite {kind} number, got {value!r}")
    return value


DocT = TypeVar("DocT", bound=AbstractDocument)


class LazyDocuments(Sequence[DocT]):
    """The documents of one candidate set, created on first access from their column arrays.

    Args:
        size: the number of documents.
        first_id: the id of the document at position 0 (ids are consecutive).
        make: ``make(doc_id, position) -> document`` building the document at a position.
    """

    __slots__ = ("_size", "_first_id", "_make", "_cache")

    def __init__(self, size: int, first_id: int, make: Callable[[int, int], DocT]) -> None:
        self._size = size
        self._first_id = first_id
        self._make = make
        self._cache: list[DocT | None] = [None] * size

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> DocT: ...

    @overload
    def __getitem__(self, index: slice) -> list[DocT]: ...

    def __getitem__(self, index: int | slice) -> DocT | list[DocT]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        document = self._cache[index]  # raises IndexError out of range, as a sequence must
        if document is None:
            position = index % self._size
            document = self._cache[position] = self._make(self._first_id + position, position)
        return document


class VectorizedDocumentSampler(AbstractDocumentSampler):
    """A sampler that draws all candidates at once; subclasses implement ``sample_candidates``.

    Documents get consecutive ids from a counter that :meth:`reset_sampler` restarts at 0;
    :meth:`sample_document` draws a candidate set of one.
    """

    def reset_sampler(self, seed: SeedLike = None) -> None:
        super().reset_sampler(seed)
        self._doc_count = 0

    def sample_document(self) -> AbstractDocument:
        return self.sample_candidates(1)[0]

    def _candidate_set(
        self, observation: Any, size: int, make: Callable[[int, int], AbstractDocument]
    ) -> CandidateSet:
        """Wraps a drawn stacked ``observation`` as a candidate set.

        Args:
            observation: the stacked observation of the ``size`` candidates.
            size: the number of candidates.
            make: ``make(doc_id, position) -> document``, called only for accessed positions.
        """
        first_id = self._doc_count
        self._doc_count += size
        return CandidateSet(
            LazyDocuments(size, first_id, make), observation=observation, stacker=self.stacker
        )

    @abc.abstractmethod
    def sample_candidates(
        self, num_candidates: int, user_state: AbstractUserState | None = None
    ) -> CandidateSet:
        """Draws ``num_candidates`` documents with a few vectorized draws."""


class FieldResponse(AbstractResponse):
    """A response observed as a dict of some of its attributes, listed in :attr:`FIELDS`.

    Integer fields are observed as Python ints (stacked as int64), the others as float32 arrays;
    fields in :attr:`CLIP` are clipped to their bounds in the observation (not in the attribute).
    A default-constructed response is the "no response yet" shown at reset.
    """

    #: observation key -> (attribute, dtype), in the order of the response space.
    FIELDS: ClassVar[dict[str, tuple[str, Any]]] = {}
    #: observation key -> (low, high) for fields observed clipped.
    CLIP: ClassVar[dict[str, tuple[float, float]]] = {}

    _PLAN: ClassVar[tuple[tuple[str, Callable[[Any], Any], Any, tuple[float, float] | None], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._PLAN = tuple(
            (key, operator.attrgetter(attribute), np.dtype(dtype), cls.CLIP.get(key))
            for key, (attribute, dtype) in cls.FIELDS.items()
        )

    @classmethod
    def _columns(cls, responses: Sequence[AbstractResponse]) -> list[tuple[str, list[Any], np.dtype]]:
        columns = []
        for key, get, dtype, bounds in cls._PLAN:
            values = list(map(get, responses))
            if bounds is not None:
                values = [min(max(value, bounds[0]), bounds[1]) for value in values]
            columns.append((key, values, dtype))
        return columns

    def create_observation(self) -> dict[str, Any]:
        return {
            key: int(values[0]) if dtype.kind in "iu" else np.array(values[0], dtype)
            for key, values, dtype in self._columns([self])
        }

    @classmethod
    def stack(cls, responses: Sequence[AbstractResponse]) -> dict[str, np.ndarray]:
        """The stacked observation of a slate's responses, built directly (one array per key)."""
        return {key: np.array(values, dtype) for key, values, dtype in cls._columns(responses)}


class StackedResponseUserModel(AbstractUserModel):
    """A user model whose :class:`FieldResponse` observations are stacked directly (and cheaply)."""

    def create_response_observation(self, responses: Sequence[AbstractResponse]) -> Any:
        if issubclass(self._response_model_ctor, FieldResponse):
            return self._response_model_ctor.stack(responses)
        return super().create_response_observation(responses)

    def null_response_observation(self) -> Any:
        if issubclass(self._response_model_ctor, FieldResponse):
            return self._response_model_ctor.stack([self._response_model_ctor()] * self._slate_size)
        return super().null_response_observation()


def total_clicks_reward(responses: Sequence[Any]) -> float:
    """The number of clicked documents on the slate."""
    return float(sum(bool(response.clicked) for response in responses))


def categorical(rng: np.random.Generator, cumulative: np.ndarray, size: int | None = None) -> Any:
    """Draws categories with the probabilities whose running sum is ``cumulative`` (last entry 1).

    Equivalent in distribution to ``rng.choice(len(cumulative), size, p=...)``, without its
    per-call validation.
    """
    return cumulative.searchsorted(rng.random(size), side="right")


def aggregate_video_cluster_metrics(
    responses: Sequence[Any], metrics: dict[str, float], info: Any = None
) -> dict[str, float]:
    """RecSim's metrics: impressions, clicks, clicked quality and clicks per document cluster.

    ``responses`` are one step's response objects (``info["responses"]``), each with ``clicked``,
    ``quality`` and ``cluster_id``.
    """
    del info
    metrics["impression"] += 1
    clicked = False
    for response in responses:
        if not response.clicked:
            continue
        clicked = True
        metrics["click"] += 1
        metrics["quality"] += float(response.quality)
        metrics[f"cluster_watch_count_cluster_{int(response.cluster_id)}"] += 1
    if not clicked:
        metrics["cluster_watch_count_no_click"] += 1
    return metrics


def write_video_cluster_metrics(
    metrics: Mapping[str, float], add_summary_fn: Callable[[str, float], None]
) -> None:
    """Writes RecSim's summaries: CTR, average clicked quality, and per-cluster click fractions."""
    impressions = metrics.get("impression", 0)
    if not impressions:
        return
    add_summary_fn("CTR", metrics.get("click", 0) / impressions)
    if metrics.get("click", 0) > 0:
        add_summary_fn("AverageQuality", metrics["quality"] / metrics["click"])
    prefix = "cluster_watch_count_cluster_"
    for key, value in metrics.items():
        if key.startswith(prefix):
            add_summary_fn(f"cluster_watch_count_frac/cluster_{key[len(prefix) :]}", value / impressions)
    add_summary_fn(
        "cluster_watch_count_frac/no_click", metrics.get("cluster_watch_count_no_click", 0) / impressions
    )
