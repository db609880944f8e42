"""Running agents on environments: episodes, training iterations, checkpoints and logs.

* :func:`run_episode` / :func:`run_episodes` play an episodic agent on any Gymnasium environment
  through RecSim's loop: ``begin_episode(obs)``, ``step(reward, obs)`` ..., ``end_episode(reward, obs)``.
* :class:`Runner` repeats that for iterations, appends one JSON line per iteration to
  ``results.jsonl`` (never rewriting what is written), checkpoints the agent every
  ``checkpoint_every`` iterations and resumes from the newest checkpoint, optionally with a
  progress bar (extra ``progress``) and TensorBoard logs (extra ``tensorboard``).

The environment's random streams are not part of a checkpoint: a resumed run re-seeds the
environment from ``seed`` and the iteration number, so it is reproducible but is not the same
trajectory as an uninterrupted run unless the agent's own state is all that matters.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from recframe.agent import AbstractEpisodicRecommenderAgent
from recframe.seeding import child_seeds

__all__ = ["EpisodeResult", "run_episode", "run_episodes", "Runner"]


@dataclass(frozen=True)
class EpisodeResult:
    """What one episode produced."""

    steps: int
    total_reward: float
    terminated: bool
    truncated: bool
    seconds: float


def run_episode(
    env: gym.Env,
    agent: AbstractEpisodicRecommenderAgent,
    *,
    seed: int | None = None,
    max_steps: int | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> EpisodeResult:
    """Plays one episode; stops when the environment ends it or after ``max_steps`` steps.

    Args:
        env: a Gymnasium environment (typically a ``RecSimGymEnv``, possibly wrapped).
        agent: the episodic agent choosing the slates.
        seed: passed to ``env.reset`` (``None`` continues the environment's streams).
        max_steps: optional cap on the number of steps (the episode then counts as truncated).
        on_step: called after each step with ``{"observation", "reward", "info", "action"}``.
    """
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer or None, got {max_steps}")
    start = time.perf_counter()
    observation, _ = env.reset(seed=seed)
    action = agent.begin_episode(observation)
    update_metrics = getattr(env.unwrapped, "update_metrics", None)
    steps, total = 0, 0.0
    while True:
        observation, reward, terminated, truncated, info = env.step(action)
        steps += 1
        total += reward
        if update_metrics is not None and "responses" in info:
            update_metrics(info["responses"], info)
        if on_step is not None:
            on_step({"observation": observation, "reward": reward, "info": info, "action": action})
        truncated = truncated or (max_steps is not None and steps >= max_steps and not terminated)
        if terminated or truncated:
            agent.end_episode(reward, observation)
            return EpisodeResult(
                steps, float(total), bool(terminated), bool(truncated), time.perf_counter() - start
            )
        action = agent.step(reward, observation)


def run_episodes(
    env: gym.Env,
    agent: AbstractEpisodicRecommenderAgent,
    num_episodes: int,
    *,
    seed: int | None = None,
    max_steps_per_episode: int | None = None,
    progress: bool = False,
) -> list[EpisodeResult]:
    """Plays ``num_episodes`` episodes; the first reset uses ``seed``, later ones continue its streams."""
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be a positive integer, got {num_episodes}")
    episodes: Iterable[int] = range(num_episodes)
    if progress:
        episodes = _progress_bar(episodes, total=num_episodes)
    return [
        run_episode(env, agent, seed=seed if i == 0 else None, max_steps=max_steps_per_episode)
        for i in episodes
    ]


def _progress_bar(iterable: Iterable[int], total: int) -> Iterable[int]:
    try:
        from tqdm.auto import tqdm
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError("progress bars need tqdm: pip install 'recframe[progress]'") from error
    return tqdm(iterable, total=total, unit="episode")


_CHECKPOINT = re.compile(r"^ckpt\.(\d+)$")


class Runner:
    """Trains (or evaluates) an agent for iterations of episodes, with results, checkpoints and logs.

    Args:
        env: the environment.
        agent: the episodic agent.
        base_dir: where ``results.jsonl``, ``checkpoints/`` and ``tensorboard/`` go.
        episodes_per_iteration: episodes per iteration.
        seed: seeds iteration ``i``'s first reset with a child of this seed (reproducible resumes).
        checkpoint_every: checkpoint the agent every this many iterations (0: never).
        max_steps_per_episode: optional per-episode step cap.
        tensorboard: also write TensorBoard scalars (needs ``pip install 'recframe[tensorboard]'``).
        progress: show a progress bar over iterations (needs ``pip install 'recframe[progress]'``).
    """

    def __init__(
        self,
        env: gym.Env,
        agent: AbstractEpisodicRecommenderAgent,
        base_dir: str | os.PathLike[str],
        *,
        episodes_per_iteration: int = 10,
        seed: int = 0,
        checkpoint_every: int = 1,
        max_steps_per_episode: int | None = None,
        tensorboard: bool = False,
        progress: bool = False,
    ) -> None:
        if episodes_per_iteration < 1:
            raise ValueError(
                f"episodes_per_iteration must be a positive integer, got {episodes_per_iteration}"
            )
        if checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {checkpoint_every}")
        self.env, self.agent = env, agent
        self.base_dir = Path(base_dir)
        self.episodes_per_iteration = episodes_per_iteration
        self.seed = seed
        self.checkpoint_every = checkpoint_every
        self.max_steps_per_episode = max_steps_per_episode
        self.progress = progress
        self._writer = _tensorboard_writer(self.base_dir / "tensorboard") if tensorboard else None
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self.iteration = self._restore_latest()

    @property
    def checkpoint_dir(self) -> Path:
        """The directory of the agent's checkpoints."""
        return self.base_dir / "checkpoints"

    @property
    def results_path(self) -> Path:
        """The JSON-lines file with one record per finished iteration."""
        return self.base_dir / "results.jsonl"

    def _restore_latest(self) -> int:
        found = sorted(
            int(m.group(1)) for p in self.checkpoint_dir.iterdir() if (m := _CHECKPOINT.match(p.name))
        )
        if not found:
            return 0
        latest = found[-1]
        with open(self.checkpoint_dir / f"ckpt.{latest}", "rb") as handle:
            bundle = pickle.load(handle)
        if not self.agent.unbundle(str(self.checkpoint_dir), latest, bundle):
            raise RuntimeError(
                f"{type(self.agent).__name__} could not restore checkpoint {latest} in {self.checkpoint_dir}"
            )
        return latest + 1

    def _checkpoint(self, iteration: int) -> None:
        bundle = self.agent.bundle_and_checkpoint(str(self.checkpoint_dir), iteration)
        if bundle is None:
            return
        path = self.checkpoint_dir / f"ckpt.{iteration}"
        partial = path.with_name(f"{path.name}.partial")
        with open(partial, "wb") as handle:
            pickle.dump(bundle, handle)
        os.replace(partial, path)  # atomic: a crash never leaves a half-written checkpoint

    def run(self, num_iterations: int) -> list[dict[str, Any]]:
        """Runs ``num_iterations`` more iterations; returns their records (also appended to results.jsonl)."""
        records = []
        iterations: Iterable[int] = range(self.iteration, self.iteration + num_iterations)
        if self.progress:
            iterations = _progress_bar(iterations, total=num_iterations)
        for iteration in iterations:
            seed = int(child_seeds(self.seed, iteration + 1)[iteration].generate_state(1)[0])
            episodes = run_episodes(
                self.env,
                self.agent,
                self.episodes_per_iteration,
                seed=seed,
                max_steps_per_episode=self.max_steps_per_episode,
            )
            record = summarize(episodes) | {"iteration": iteration}
            records.append(record)
            self._append(record)
            if self._writer is not None:
                for key in ("mean_return", "mean_steps", "steps_per_second"):
                    self._writer.add_scalar(key, record[key], iteration)
                self._writer.flush()
            if self.checkpoint_every and (iteration + 1) % self.checkpoint_every == 0:
                self._checkpoint(iteration)
            self.iteration = iteration + 1
        return records

    def _append(self, record: dict[str, Any]) -> None:
        with open(self.results_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read_results(self) -> list[dict[str, Any]]:
        """All records written so far (across resumes)."""
        if not self.results_path.exists():
            return []
        return [
            json.loads(line) for line in self.results_path.read_text(encoding="utf-8").splitlines() if line
        ]


def summarize(episodes: list[EpisodeResult]) -> dict[str, Any]:
    """Mean return (with its standard error), mean length and speed of a list of episodes."""
    returns = [e.total_reward for e in episodes]
    n = len(returns)
    mean = sum(returns) / n
    variance = sum((r - mean) ** 2 for r in returns) / (n - 1) if n > 1 else float("nan")
    steps = sum(e.steps for e in episodes)
    seconds = sum(e.seconds for e in episodes)
    return {
        "episodes": n,
        "mean_return": mean,
        "se_return": math.sqrt(variance / n) if n > 1 else float("nan"),
        "mean_steps": steps / n,
        "steps_per_second": steps / seconds if seconds > 0 else float("inf"),
        "episode_returns": returns,
    }


def _tensorboard_writer(log_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ImportError("TensorBoard logs need tensorboard: pip install 'recframe[tensorboard]'") from error
    return SummaryWriter(log_dir=str(log_dir))
