from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from recframe.spaces import (
    ObservationStacker,
    SlateSpace,
    as_slate,
    check_in_space,
    compile_contains,
    explain_mismatch,
    null_value,
)


def test_slate_space_samples_distinct_valid_slates_deterministically():
    space = SlateSpace(num_candidates=6, slate_size=4, seed=3)
    slates = [space.sample() for _ in range(500)]
    assert all(len(set(s.tolist())) == 4 and space.contains(s) for s in slates)
    again = SlateSpace(num_candidates=6, slate_size=4, seed=3)
    assert all(np.array_equal(s, again.sample()) for s in slates)
    # Every position sees every candidate: the draw is not stuck on a subset.
    assert {int(v) for s in slates for v in s} == set(range(6))


def test_slate_space_rejects_repeats_and_is_a_multidiscrete():
    space = SlateSpace(10, 3)
    assert isinstance(space, spaces.MultiDiscrete)
    assert not space.contains(np.array([1, 1, 2]))
    assert not space.contains(np.array([1, 2, 10]))
    assert space.contains(np.array([9, 0, 4]))
    assert "num_candidates=10" in repr(space)


@pytest.mark.parametrize("num_candidates, slate_size", [(3, 4), (5, 0)])
def test_slate_space_rejects_impossible_sizes(num_candidates, slate_size):
    with pytest.raises(ValueError, match="slate_size"):
        SlateSpace(num_candidates, slate_size)


@pytest.mark.parametrize(
    "action, error, fragment",
    [
        ([1, 1], ValueError, "repeat"),
        ([-1, 2], ValueError, "-1 is out of range"),
        ([0, 5], ValueError, "5 is out of range"),
        ([0, 1, 2], ValueError, "exactly 2"),
        (np.array([0.0, 1.0]), TypeError, "integer"),
        ([0, 1.5], TypeError, "1.5"),
        ([True, 0], TypeError, "True"),
        ("01", TypeError, "str"),
        (np.array([[0, 1]]), ValueError, "1-D"),
    ],
)
def test_as_slate_names_the_bad_value(action, error, fragment):
    with pytest.raises(error, match=fragment):
        as_slate(action, num_candidates=5, slate_size=2)


def test_as_slate_accepts_arrays_lists_and_numpy_ints():
    assert as_slate(np.array([4, 0]), 5, 2) == [4, 0]
    assert as_slate([np.int32(1), 3], 5, 2) == [1, 3]
    assert as_slate(np.int64(2), 5, 1) == [2]


SPACES = {
    "box": spaces.Box(-1.0, 1.0, (3,), np.float32),
    "box_unbounded": spaces.Box(-np.inf, np.inf, (2,), np.float32),
    "box_nonuniform": spaces.Box(np.array([0.0, -1.0]), np.array([1.0, 0.0]), dtype=np.float64),
    "discrete": spaces.Discrete(4, start=1),
    "multi_discrete": spaces.MultiDiscrete([3, 3]),
    "multi_discrete_ragged": spaces.MultiDiscrete([2, 5]),
    # Past 48 entries the compiled checks use numpy reductions instead of Python comparisons.
    "box_large": spaces.Box(-1.0, 1.0, (6, 9), np.float32),
    "box_large_unbounded": spaces.Box(-np.inf, np.inf, (6, 9), np.float32),
    "box_medium": spaces.Box(0.0, 1.0, (4, 5), np.float32),
    "box_scalar": spaces.Box(0.0, 1.0, (), np.float64),
    "box_matrix": spaces.Box(0, 3, (2, 2), np.int64),
    "multi_discrete_large": spaces.MultiDiscrete(np.full((7, 8), 3)),
}


def _with(array: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    array = array.copy()
    array[index] = value
    return array


CANDIDATES = [
    np.array([0.5, -0.5, 1.0], dtype=np.float32),
    np.array([0.5, -0.5, 1.5], dtype=np.float32),
    np.array([0.5, np.nan, 0.0], dtype=np.float32),
    np.array([0.5, 0.5], dtype=np.float64),
    np.array([0.5, 0.5], dtype=np.float32),
    np.array([np.inf, -np.inf], dtype=np.float32),
    np.array([np.nan, 0.0], dtype=np.float32),
    np.array([0.5, -0.5]),
    np.array([1, 2]),
    np.array([2, 2]),
    np.array([3, 0]),
    np.array([0, -1]),
    np.array([1, 4]),
    np.zeros((2, 2), dtype=np.int64),
    np.full((2, 2), 3, dtype=np.int64),
    np.full((2, 2), 4, dtype=np.int64),
    np.zeros((4, 5), dtype=np.float32),
    _with(np.zeros((4, 5), dtype=np.float32), (3, 4), np.nan),
    _with(np.zeros((4, 5), dtype=np.float32), (1, 2), 2.0),
    np.zeros((6, 9), dtype=np.float32),
    _with(np.zeros((6, 9), dtype=np.float32), (5, 8), np.nan),
    _with(np.zeros((6, 9), dtype=np.float32), (2, 3), -1.5),
    _with(np.zeros((6, 9), dtype=np.float32), (0, 0), np.inf),
    np.zeros((7, 8), dtype=np.int64),
    _with(np.zeros((7, 8), dtype=np.int64), (6, 7), 3),
    _with(np.zeros((7, 8), dtype=np.int64), (0, 2), -1),
    np.array(0.5),
    np.array(1.5),
    np.array(np.nan),
    np.int64(2),
    np.array(3),
    np.float64(2.0),
    0,
    1,
    4,
    5,
    [1, 2],
    "x",
]


@pytest.mark.filterwarnings("ignore:.*Casting input x to numpy array")
@pytest.mark.parametrize("name", sorted(SPACES))
def test_compiled_contains_agrees_with_gymnasium(name):
    space = SPACES[name]
    compiled = compile_contains(space)
    for value in CANDIDATES + [space.sample() for _ in range(20)]:
        assert compiled(value) == space.contains(value), (name, value)


def test_compiled_contains_on_nested_spaces():
    space = spaces.Dict(a=SPACES["box"], b=spaces.Tuple([SPACES["discrete"], SPACES["multi_discrete"]]))
    compiled = compile_contains(space)
    good = space.sample()
    assert compiled(good) and space.contains(good)
    bad = {"a": good["a"], "b": (0, good["b"][1])}
    assert not compiled(bad) and not space.contains(bad)
    assert not compiled({"a": good["a"]})
    assert not compiled({**good, "extra": 1})
    assert not compiled({"a": good["a"], "b": [good["b"][0], good["b"][1]]})


def test_stacker_stacks_nested_observations_into_the_batched_space():
    item = spaces.Dict(topic=spaces.Discrete(3), quality=spaces.Box(-1, 1, (2,), np.float32))
    stacker = ObservationStacker(item)
    observations = [{"topic": i % 3, "quality": np.full(2, i / 10)} for i in range(4)]
    stacked = stacker.stack(observations)
    assert stacker.batched_space(4).contains(stacked)
    assert stacked["quality"].dtype == np.float32 and stacked["topic"].tolist() == [0, 1, 2, 0]
    back = stacker.unstack(stacked, 4)
    assert [b["topic"] for b in back] == [0, 1, 2, 0]
    np.testing.assert_allclose(back[3]["quality"], [0.3, 0.3], rtol=1e-6)


def test_stacker_single_leaf():
    stacker = ObservationStacker(spaces.Discrete(5))
    stacked = stacker.stack([4, 0, 2])
    assert stacked.tolist() == [4, 0, 2] and stacker.batched_space(3).contains(stacked)


@pytest.mark.parametrize(
    "space",
    [
        spaces.Box(1.0, 2.0, (2,), np.float32),
        spaces.Box(-np.inf, np.inf, (), np.float64),
        spaces.Discrete(3, start=-1),
        spaces.MultiDiscrete([2, 3], start=[1, 1]),
        spaces.MultiBinary(4),
        spaces.Dict(a=spaces.Discrete(2), b=spaces.Tuple([spaces.Box(0, 1, (1,))])),
    ],
)
def test_null_value_lies_in_the_space(space):
    assert space.contains(null_value(space))


def test_null_value_of_unknown_space_says_what_to_do():
    with pytest.raises(TypeError, match="null_observation"):
        null_value(spaces.Graph(spaces.Box(0, 1, (1,)), None))


def test_check_in_space_names_component_value_and_reason():
    space = spaces.Dict(a=spaces.Box(0, 1, (2,), np.float32))
    with pytest.raises(ValueError) as info:
        check_in_space(space, {"a": np.array([0.5, 2.0], dtype=np.float32)}, "MyDoc.create_observation()")
    message = str(info.value)
    assert "MyDoc.create_observation()" in message and "2." in message and "Box(0.0, 1.0" in message
    assert "outside" in explain_mismatch(space, {"a": np.array([0.5, 2.0], dtype=np.float32)})
    assert "shape (3,)" in explain_mismatch(space, {"a": np.zeros(3, np.float32)})
    assert "keys" in explain_mismatch(space, {"b": 1})
    assert "integer" in explain_mismatch(spaces.Discrete(2), 0.5)
