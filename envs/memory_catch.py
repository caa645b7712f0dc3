"""MemoryCatch: the partially observable Catch game of Ba et al. (2016), section "Agents with memory"."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs._checks import check_int, check_render_mode
from envs.render import BLANK_COLOR, VISIBLE_COLOR, upscale

LEFT, STAY, RIGHT = 0, 1, 2


class MemoryCatchEnv(gym.Env[np.ndarray, np.int64]):
    """
    ## Description
    An N×N binary screen. A ball starts at a uniformly random column of the top row and falls
    one row per step; the agent moves a paddle along the bottom row. After the first M
    observations the screen goes blank (all zeros, paddle included), so the agent must
    remember where the ball was and how far it has moved since. This is the game the paper
    used to compare fast-weight, LSTM and ReLU-RNN agents.

    ## Action Space
    ``Discrete(3)``: 0 = move left, 1 = stay, 2 = move right. The paddle is clipped at the walls.

    ## Observation Space
    ``Box(0, 1, (N, N), float32)``: 1 where the ball or the paddle is, 0 elsewhere. Observations
    number 0 (from ``reset``) to M−1 show the screen; observations M and later are all zeros.

    ## Rewards
    0 on every step but the last; on the last, +1 if the ball lands on the paddle, −1 if not.

    ## Termination
    The episode terminates when the ball reaches the bottom row, after exactly N−1 steps.
    The final ``info`` has ``caught`` and ``is_success`` (the same bool), so tools report a
    catch rate.

    ## Arguments
    - ``size`` (N, default 16, ≥ 3), ``visible_steps`` (M, default 3, ≥ 1),
    - ``paddle_width`` (default 1, ≤ N; the paddle covers ``width`` columns around its centre),
    - ``paddle_start`` (column of the paddle's centre at reset; default the middle, N // 2),
    - ``render_mode``: ``"rgb_array"`` draws the *true* state, upscaled, with a frame that is
      green while the agent sees the screen and red once its view is blank.

    ## Registered Configurations
    - ``MemoryCatch-v0``: N = 16, M = 3 (the paper's first setting)
    - ``MemoryCatch-24-v0``: N = 24, M = 5 (the paper's second setting)
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    action_names = ("left", "stay", "right")  # indexed by LEFT, STAY, RIGHT

    def __init__(
        self,
        size: int = 16,
        visible_steps: int = 3,
        paddle_width: int = 1,
        paddle_start: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.size = check_int("size", size, 3)
        self.visible_steps = check_int("visible_steps", visible_steps, 1)
        self.paddle_width = check_int("paddle_width", paddle_width, 1, self.size, " (at most size)")
        if paddle_start is not None:
            check_int("paddle_start", paddle_start, 0, self.size - 1, " (a column of the screen)")
        self.render_mode = check_render_mode(render_mode, self.metadata)
        self.paddle_start = self._clip_paddle(size // 2 if paddle_start is None else int(paddle_start))
        self.observation_space = spaces.Box(0.0, 1.0, (self.size, self.size), np.float32)
        self.action_space = spaces.Discrete(3)
        self._blank = np.zeros((self.size, self.size), np.float32)
        self.ball_row = 0
        self.ball_col = 0
        self.paddle = self.paddle_start
        self.t = 0

    def _clip_paddle(self, centre: int) -> int:
        lo = self.paddle_width // 2
        hi = self.size - (self.paddle_width - self.paddle_width // 2)
        return min(max(centre, lo), hi)

    @property
    def paddle_columns(self) -> tuple[int, int]:
        """First and one-past-last column the paddle covers."""
        first = self.paddle - self.paddle_width // 2
        return first, first + self.paddle_width

    @property
    def observation_visible(self) -> bool:
        """Whether the latest observation showed the screen (False once it went blank)."""
        return self.t < self.visible_steps

    def _observe(self) -> np.ndarray:
        if not self.observation_visible:
            return self._blank.copy()
        obs = np.zeros((self.size, self.size), np.float32)
        obs[self.ball_row, self.ball_col] = 1.0
        first, last = self.paddle_columns
        obs[self.size - 1, first:last] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.ball_row = 0
        self.ball_col = int(self.np_random.integers(self.size))
        self.paddle = self.paddle_start
        self.t = 0
        return self._observe(), {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (left), 1 (stay) or 2 (right), got {action!r}")
        self.paddle = self._clip_paddle(self.paddle + int(action) - 1)
        self.ball_row += 1
        self.t += 1
        terminated = self.ball_row == self.size - 1
        reward = 0.0
        info: dict[str, Any] = {}
        if terminated:
            first, last = self.paddle_columns
            caught = first <= self.ball_col < last
            reward = 1.0 if caught else -1.0
            info = {"caught": caught, "is_success": caught}
        return self._observe(), reward, terminated, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        n = self.size
        grid = np.full((n, n, 3), 24, np.uint8)
        grid[self.ball_row, self.ball_col] = (255, 214, 10)
        first, last = self.paddle_columns
        grid[n - 1, first:last] = (80, 160, 255)
        image = upscale(grid, max(4, 256 // n))
        border = VISIBLE_COLOR if self.observation_visible else BLANK_COLOR
        image[:4], image[-4:], image[:, :4], image[:, -4:] = border, border, border, border
        return image
