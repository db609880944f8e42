"""ShardedVectorEnv on a toy native vector env: the same results as one process, errors, closing.

Most tests start workers with ``fork`` (milliseconds; this process runs torch with one thread and
no other threads that the workers would need); one test covers the default start method.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tree
from gymnasium import spaces
from gymnasium.vector.utils import batch_space
from toy_vector_env import ToyVectorEnv, broken_factory

from recframe.simulator.sharded import ShardedVectorEnv, default_start_method, even_shard_sizes
from recframe.simulator.shared_batch import SharedBatch, shareable

SIZES = [3, 1, 2]


def _sharded(sizes=SIZES, start_method="fork", **kwargs) -> ShardedVectorEnv:
    starts = np.cumsum([0, *sizes[:-1]]).tolist()
    return ShardedVectorEnv(
        ToyVectorEnv,
        sizes,
        shard_kwargs=[{"seed": 7 + start} for start in starts],
        start_method=start_method,
        **kwargs,
    )


def _assert_same(a, b) -> None:
    assert tree.flatten(tree.map_structure(lambda x: np.asarray(x).dtype, a)) == tree.flatten(
        tree.map_structure(lambda x: np.asarray(x).dtype, b)
    )
    tree.map_structure(np.testing.assert_array_equal, a, b)


@pytest.mark.parametrize(
    ("seed", "shared_memory"), [(None, True), (3, True), ([10, 20, 30, 40, 50, 60], True), (3, False)]
)
def test_sharded_env_equals_one_process(seed, shared_memory):
    whole = ToyVectorEnv(6, seed=7)
    with _sharded(shared_memory=shared_memory) as sharded:
        assert len(sharded._shared) == shared_memory
        assert (
            sharded.num_envs == 6 and sharded.metadata["autoreset_mode"] == whole.metadata["autoreset_mode"]
        )
        assert sharded.observation_space == whole.observation_space
        assert sharded.action_space == whole.action_space
        _assert_same(sharded.reset(seed=seed), whole.reset(seed=seed))
        rng = np.random.default_rng(0)
        ended = 0
        for _ in range(12):
            actions = rng.uniform(size=(6, 3)).astype(np.float32)
            result = sharded.step(actions)
            _assert_same(result, whole.step(actions))
            ended += result[2].sum()
        assert ended >= 6  # autoresets crossed, and the info key only some envs report


def test_worker_error_names_the_shard_and_needs_a_reset():
    with _sharded() as sharded:
        sharded.reset(seed=0)
        actions = np.full((6, 3), 0.5, dtype=np.float32)
        actions[5, 1] = -1.0  # env 1 of shard 2
        with pytest.raises(ValueError, match=r"shard 2 \(envs 4 to 5 of 6.*\): negative action in env 1"):
            sharded.step(actions)
        with pytest.raises(RuntimeError, match="call reset"):  # shards 0 and 1 did step
            sharded.step(actions)
        sharded.reset(seed=0)
        actions[5, 1] = 0.5
        sharded.step(actions)


def test_the_worker_traceback_is_in_the_message():
    with _sharded([1, 1]) as sharded:
        sharded.reset()
        with pytest.raises(ValueError, match=r"(?s)Traceback in the worker:.*toy_vector_env\.py"):
            sharded.step(-np.ones((2, 3)))
        sharded.reset()  # every shard failed; a reset brings them in step again anyway


def test_a_shard_that_cannot_be_built_raises_and_leaves_no_worker():
    with pytest.raises(KeyError, match="shard 1 .*no shard of 2 envs today") as caught:
        ShardedVectorEnv(_broken_second, [1, 2], start_method="fork")
    assert "Traceback in the worker" in str(caught.value)


def _broken_second(num_envs: int):
    return ToyVectorEnv(num_envs) if num_envs == 1 else broken_factory(num_envs)


def test_close_is_idempotent_and_stops_the_workers():
    sharded = _sharded()
    processes = list(sharded._processes)
    assert all(p.is_alive() for p in processes)
    sharded.close()
    sharded.close()
    assert not any(p.is_alive() for p in processes)
    with pytest.raises(RuntimeError, match="closed"):
        sharded.reset()


def test_a_dead_worker_closes_the_env_instead_of_hanging():
    sharded = _sharded()
    sharded.reset(seed=0)
    os.kill(sharded._processes[1].pid, signal.SIGKILL)
    with pytest.raises(RuntimeError, match=r"worker of shard 1 .* died"):
        sharded.step(np.zeros((6, 3), dtype=np.float32))
    assert sharded.closed and not any(p.is_alive() for p in sharded._processes)


def test_the_default_start_method_gives_the_same_results():
    assert default_start_method() in ("forkserver", "spawn")
    whole = ToyVectorEnv(3, seed=7)
    with _sharded([2, 1], start_method=None) as sharded:
        assert sharded.start_method == default_start_method()
        _assert_same(sharded.reset(seed=1), whole.reset(seed=1))
        actions = np.ones((3, 3), dtype=np.float32)
        _assert_same(sharded.step(actions), whole.step(actions))


def test_a_batched_space_of_another_type_needs_batch_space():
    class Rows(spaces.Box):
        """A batched action space of the shards' own type."""

    def rows(space, n):
        batched = batch_space(space, n)
        return (
            Rows(batched.low, batched.high, dtype=batched.dtype) if isinstance(space, spaces.Box) else batched
        )

    with pytest.raises(TypeError, match="pass batch_space="):
        ShardedVectorEnv(ToyVectorEnv, [1, 1], batch_space=rows, start_method="fork")


def test_even_shard_sizes():
    assert even_shard_sizes(7, 3) == [3, 2, 2]
    assert even_shard_sizes(4, 4) == [1, 1, 1, 1]
    for num_envs, num_workers in [(3, 4), (3, 0), (3, 1.5), (0, 1), (3, True)]:
        with pytest.raises(ValueError, match="num_workers|num_envs"):
            even_shard_sizes(num_envs, num_workers)
    with pytest.raises(ValueError, match="shard_sizes"):
        ShardedVectorEnv(ToyVectorEnv, [2, 0])
    with pytest.raises(ValueError, match="one seed per env"):
        with _sharded([1, 1]) as sharded:
            sharded.reset(seed=[1, 2, 3])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")  # zombies are gone


@pytest.mark.parametrize(
    ("ending", "start_method"),
    [("pass", None), ("del envs", None), ("envs.step(-np.ones((2, 3)))", None), ("envs.close()", "fork")],
)
def test_the_interpreter_exits_and_takes_the_workers_along(ending, start_method):
    """Without close(): at exit, after the env is collected, or on an uncaught worker error; and
    forked workers (started before the shared memory existed) leave it to the parent to free."""
    script = (
        "import numpy as np\n"
        "from toy_vector_env import ToyVectorEnv\n"
        "from recframe.simulator.sharded import ShardedVectorEnv\n"
        "if __name__ == '__main__':\n"
        f"    envs = ShardedVectorEnv(ToyVectorEnv, [1, 1], start_method={start_method!r})\n"
        "    envs.reset(seed=0)\n"
        "    print(*(p.pid for p in envs._processes), flush=True)\n"
        f"    {ending}\n"
    )
    helpers = str(Path(__file__).parents[1] / "helpers")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([helpers, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    if "step" in ending:
        assert done.returncode == 1 and "ValueError: in shard 0" in done.stderr, done.stderr
    else:
        assert done.returncode == 0 and not done.stderr, done.stderr
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2 and not any(_alive(pid) for pid in pids)


def test_shared_batch_rows_and_unshareable_spaces():
    space = batch_space(
        spaces.Dict({"a": spaces.Discrete(3), "b": spaces.Tuple([spaces.Box(0, 1, (2, 2))])}), 4
    )
    owner = SharedBatch(space)
    other = SharedBatch(space, owner.name)
    rows = {"a": np.array([1, 2]), "b": (np.ones((2, 2, 2), np.float32),)}
    other.write(2, 4, rows)
    batch = owner.read()
    np.testing.assert_array_equal(batch["a"], [0, 0, 1, 2])
    assert batch["b"][0].dtype == np.float32 and batch["b"][0][2:].all() and not batch["b"][0][:2].any()
    other.close()
    owner.close()
    owner.close()
    assert not shareable(batch_space(spaces.Text(5), 2))
