"""The README's promises: its two commands are what CI runs, and its example runs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_ci_runs_exactly_the_readme_commands():
    setup, tests = (block.strip() for block in _code_blocks("bash")[:2])
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in ci_lines if line and not line.startswith(("#", "set ", "cd ", "export "))]
    assert commands == [setup, tests]


def test_readme_example_defines_and_steps_an_environment():
    namespace: dict = {}
    exec(compile(_code_blocks("python")[0], "README example", "exec"), namespace)
    env, obs = namespace["env"], namespace["obs"]
    assert env.observation_space.contains(obs)
    assert obs["doc"].shape == (8, 1)
    assert namespace["reward"] in (0, 1)
    assert np.isin(namespace["env"].action_space.sample(), np.arange(8)).all()


def test_readme_vector_example_steps_a_batch_of_shoppers():
    namespace: dict = {}
    exec(compile(_code_blocks("python")[1], "README vector example", "exec"), namespace)
    envs, obs, reward = namespace["envs"], namespace["obs"], namespace["reward"]
    assert envs.observation_space.contains(obs)
    assert obs["doc"].shape[:2] == (64, 50) and reward.shape == (64,)
    assert np.all(namespace["info"]["product_ids"] >= 0)  # every shopper was shown a list


def test_readme_agents_example_runs(capsys):
    exec(compile(_code_blocks("python")[2], "README agents example", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    means = {line.split()[0]: float(line.split()[1]) for line in lines}
    assert set(means) == {"RandomAgent", "LinUCB"}
    assert means["LinUCB"] > means["RandomAgent"]


def test_readme_lists_every_registered_environment():
    import recframe

    for env_id in recframe.registered_environments():
        assert f"`{env_id}`" in README, env_id


def test_cli_lists_plugin_commands_and_environments(capsys):
    from recframe.__main__ import build_parser, main

    assert main(["list"]) == 0
    assert "recframe/Tutorial-v0" in capsys.readouterr().out
    help_text = build_parser().format_help()
    assert "demo" in help_text and "world" in help_text


def test_cli_demo_prints_a_table(capsys):
    from recframe.__main__ import main

    assert main(["demo", "--env", "recframe/Tutorial-v0", "--episodes", "5"]) == 0
    out = capsys.readouterr().out
    assert "recframe/Tutorial-v0" in out and "reward/step" in out


def test_cli_rejects_bad_arguments(capsys):
    from recframe.__main__ import main

    assert main(["demo", "--env", "recframe/Nope-v0"]) == 2
    assert "Nope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--episodes", "0"])
    assert exit_info.value.code == 2
    assert "--episodes: must be a positive integer, got 0" in capsys.readouterr().err
