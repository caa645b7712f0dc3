"""Reference agents for MemoryCatch: perfect memory versus no memory at all."""

from __future__ import annotations

import numpy as np

from envs.memory_catch import LEFT, RIGHT, STAY, MemoryCatchEnv


class OracleCatchAgent:
    """Perfect memory: remembers the ball's column and counts its own moves (walls included).

    It reads the ball column and the paddle from the first observation, then steers toward
    the ball whatever the screen shows; with the paddle starting in the middle it always has
    time to arrive, so it catches every ball.
    """

    def __init__(self, size: int, paddle_width: int = 1) -> None:
        self.size = size
        self.paddle_width = paddle_width
        self.reset()

    def reset(self) -> None:
        self.ball_col: int | None = None
        self.paddle: int | None = None

    def act(self, obs: np.ndarray) -> int:
        if obs.any():
            self.ball_col = int(np.argmax(obs[:-1].max(axis=0)))
            cols = np.flatnonzero(obs[-1])
            self.paddle = int(cols[0]) + self.paddle_width // 2
        if self.ball_col is None or self.paddle is None:
            return STAY
        action = RIGHT if self.ball_col > self.paddle else LEFT if self.ball_col < self.paddle else STAY
        lo = self.paddle_width // 2
        hi = self.size - (self.paddle_width - lo)
        self.paddle = min(max(self.paddle + action - 1, lo), hi)
        return action


class MemorylessCatchAgent:
    """Acts on the current observation alone: toward the ball while it is visible, then stays.

    A feed-forward policy sees the same all-zero input on every blank step, so it can do no
    better than a fixed choice there; staying keeps what was gained while the ball was visible.
    """

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> int:
        if not obs.any():
            return STAY
        ball_col = int(np.argmax(obs[:-1].max(axis=0)))
        cols = np.flatnonzero(obs[-1])
        centre = (int(cols[0]) + int(cols[-1])) / 2
        return RIGHT if ball_col > centre else LEFT if ball_col < centre else STAY


def catch_rate(
    agent: OracleCatchAgent | MemorylessCatchAgent, env: MemoryCatchEnv, episodes: int, seed: int = 0
) -> float:
    """Fraction of ``episodes`` in which ``agent`` catches the ball (seeded, reproducible)."""
    caught = 0
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        agent.reset()
        done = False
        info: dict = {}
        while not done:
            obs, _, terminated, truncated, info = env.step(agent.act(obs))
            done = terminated or truncated
        caught += bool(info["caught"])
        obs, _ = env.reset()
    return caught / episodes
