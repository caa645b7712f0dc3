"""Every observation space SB3's preprocessing supports trains with every core."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env

from fw_agents import FastWeightCnnPolicy, FastWeightMlpPolicy, FastWeightMultiInputPolicy, available_cores

SPACES = {
    "discrete": spaces.Discrete(5),
    "multidiscrete": spaces.MultiDiscrete([3, 4, 2]),
    "multibinary": spaces.MultiBinary(6),
    "box": spaces.Box(-1.0, 1.0, (4,), np.float32),
    "image": spaces.Box(0, 255, (36, 36, 3), np.uint8),
    "dict": spaces.Dict(
        {"pos": spaces.Box(-1.0, 1.0, (2,), np.float32), "flag": spaces.Discrete(3), "bits": spaces.MultiBinary(3)}
    ),
}
POLICY = {"image": FastWeightCnnPolicy, "dict": FastWeightMultiInputPolicy}


class RandomObservations(gym.Env):
    """Random observations from ``space``; reward 1 when the action equals the step's parity."""

    def __init__(self, space: spaces.Space) -> None:
        self.observation_space = space
        self.action_space = spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.observation_space.seed(seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        self.t += 1
        reward = float(int(action) == self.t % 2)
        return self.observation_space.sample(), reward, self.t >= 8, False, {}


@pytest.mark.parametrize("core", [c for c in available_cores() if c != "alstm"])
@pytest.mark.parametrize("space", list(SPACES))
def test_space_trains_with_core(space, core):
    env = make_vec_env(lambda: RandomObservations(SPACES[space]), n_envs=2, seed=0)
    kwargs = {"core": core, "lstm_hidden_size": 8, "net_arch": {"pi": [8], "vf": [8]}}
    if space == "image":
        kwargs["features_extractor_kwargs"] = {"features_dim": 16}
    model = RecurrentPPO(POLICY.get(space, FastWeightMlpPolicy), env, n_steps=16, batch_size=16, n_epochs=1,
                         policy_kwargs=kwargs, seed=0)  # fmt: skip
    before = [p.detach().clone() for p in model.policy.lstm_actor.parameters()]
    model.learn(64)
    after = list(model.policy.lstm_actor.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)), "the core was not trained"
    assert np.isfinite(model.logger.name_to_value["train/loss"])
