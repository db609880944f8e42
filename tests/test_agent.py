from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from recframe.agent import (
    AbstractEpisodicRecommenderAgent,
    AbstractHierarchicalAgentLayer,
    AbstractMultiUserEpisodicRecommenderAgent,
    AbstractRecommenderAgent,
)
from recframe.spaces import SlateSpace


class FirstK(AbstractEpisodicRecommenderAgent):
    def __init__(self, action_space):
        super().__init__(action_space)
        self.rewards = []

    def step(self, reward, observation):
        self.rewards.append(reward)
        return np.arange(self.action_space.slate_size)


class Reverse(AbstractHierarchicalAgentLayer):
    def _preprocess_reward_observation(self, reward, observation):
        return 10 * reward, observation

    def _postprocess_actions(self, action_list):
        return action_list[0][::-1]


def test_abstract_agent_cannot_be_instantiated():
    with pytest.raises(TypeError):
        AbstractRecommenderAgent(SlateSpace(5, 2))


def test_episodic_agent_counts_episodes_and_checkpoints(tmp_path):
    agent = FirstK(SlateSpace(5, 2))
    assert agent.begin_episode(None).tolist() == [0, 1]
    agent.begin_episode(None)
    bundle = agent.bundle_and_checkpoint(str(tmp_path), 3)
    fresh = FirstK(SlateSpace(5, 2))
    assert fresh.unbundle(str(tmp_path), 3, bundle) and fresh.episode_num == 2
    assert not fresh.unbundle(str(tmp_path), 3, {})
    assert not agent.multi_user


def test_hierarchical_layer_builds_base_agents_and_transforms():
    layer = Reverse(SlateSpace(5, 3), FirstK)
    assert layer.begin_episode(None).tolist() == [2, 1, 0]
    layer.step(1.5, None)
    assert layer._base_agents[0].rewards == [0.0, 15.0]
    bundle = layer.bundle_and_checkpoint("unused", 0)
    other = Reverse(SlateSpace(5, 3), FirstK)
    assert other.unbundle("unused", 0, bundle) and other._base_agents[0].episode_num == 1


def test_multi_user_agent_needs_a_tuple_space():
    class Multi(AbstractMultiUserEpisodicRecommenderAgent):
        def step(self, reward, observation):
            return [np.arange(2)] * self.num_users

    agent = Multi(spaces.Tuple([SlateSpace(5, 2)] * 3))
    assert agent.multi_user and agent.num_users == 3
    with pytest.raises(TypeError, match="spaces.Tuple"):
        Multi(SlateSpace(5, 2))
