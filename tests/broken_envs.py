"""Envs that fail on purpose, for the CLI's error paths (``--gym-packages broken_envs``)."""

import gymnasium as gym
from gymnasium.envs.registration import register, registry


class BrokenResetEnv(gym.Env):
    observation_space = gym.spaces.Box(0.0, 1.0, (2,))
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        raise RuntimeError("the simulator is not running")

    def step(self, action):  # pragma: no cover - never reached
        raise RuntimeError("unreachable")


if "BrokenReset-v0" not in registry:
    register(id="BrokenReset-v0", entry_point=BrokenResetEnv)
