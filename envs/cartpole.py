"""CartPole with positions only (no velocities): the memory test of sb3-contrib and the RL Zoo."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class CartPoleNoVelEnv(CartPoleEnv):
    """
    ## Description
    Gymnasium's CartPole-v1 with the two velocities removed from the observation, so a policy
    must infer them from consecutive positions: a small memory task with a known answer
    (sb3-contrib's recurrent PPO test expects a mean return ≥ 450 of 500).

    ## Action Space
    ``Discrete(2)``: push left or right.

    ## Observation Space
    ``Box((2,), float32)``: cart position and pole angle.

    ## Rewards
    +1 per step the pole stays up.

    ## Termination
    As CartPole-v1 (pole angle beyond ±12°, cart beyond ±2.4); truncated at 500 steps.

    ## Registered Configurations
    ``CartPoleNoVel-v1``.
    """

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        high = np.array([self.x_threshold * 2, self.theta_threshold_radians * 2], dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)

    @staticmethod
    def _positions(full: np.ndarray) -> np.ndarray:
        return np.asarray(full[[0, 2]], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        full, info = super().reset(seed=seed, options=options)
        return self._positions(full), info

    def step(self, action):
        full, reward, terminated, truncated, info = super().step(action)
        return self._positions(full), reward, terminated, truncated, info
