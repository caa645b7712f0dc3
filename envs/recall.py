"""Recall tasks as episodes: the paper's associative retrieval, and a delayed recall in the
spirit of bsuite's ``memory_len``."""

from __future__ import annotations

import string
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs._checks import check_int, check_render_mode
from envs.render import upscale

KEYS = string.ascii_lowercase  # 26 letter keys
VALUES = string.digits  # 10 digit values
VOCAB = KEYS + VALUES + "?"  # 37 tokens, as in the paper
SEPARATOR = VOCAB.index("?")


def sample_retrieval(rng: np.random.Generator, n: int, num_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` associative-retrieval sequences: tokens (n, 2K+3) and the queried values (n,).

    K distinct letter keys, each followed by a digit value, then "??", then one of the keys.
    The one definition of the task's format, shared by the env and the supervised data set.
    """
    keys = np.argsort(rng.random((n, len(KEYS))), axis=1)[:, :num_pairs]  # distinct letters per row
    values = rng.integers(len(VALUES), size=(n, num_pairs))
    query = rng.integers(num_pairs, size=n)
    tokens = np.empty((n, 2 * num_pairs + 3), np.int64)
    tokens[:, 0 : 2 * num_pairs : 2] = keys
    tokens[:, 1 : 2 * num_pairs : 2] = len(KEYS) + values
    tokens[:, 2 * num_pairs : 2 * num_pairs + 2] = SEPARATOR
    tokens[:, -1] = keys[np.arange(n), query]
    return tokens, values[np.arange(n), query]


def _timeline_picture(history: list[np.ndarray], length: int, width: int, highlight: int | None) -> np.ndarray:
    """Token-by-time picture: one column per step shown so far, the answer column tinted."""
    grid = np.full((width, length, 3), 24, np.uint8)
    for t, obs in enumerate(history):
        grid[:, t, :] = (obs[:, None] * 230).astype(np.uint8) + 24
    if highlight is not None and highlight < len(history):
        grid[:, highlight, 2] = np.maximum(grid[:, highlight, 2], 120)
    return upscale(grid, 8)


class AssociativeRecallEnv(gym.Env[np.ndarray, np.int64]):
    """
    ## Description
    The associative retrieval task of Ba et al. (2016) as an episode. K key–value pairs are
    shown one symbol per step (keys are distinct letters a–z, values digits 0–9), then the
    separator "??", then one of the keys: e.g. ``c 9 k 8 j 3 f 1 ? ? c`` (answer 9). The agent
    must answer with the value stored under the queried key.

    ## Action Space
    ``Discrete(10)``: the digit answered. Only the action taken after the query is scored.

    ## Observation Space
    ``Box(0, 1, (37,), float32)``: one-hot token (26 letters, 10 digits, "?").

    ## Rewards
    +1 for the right value on the last step, −1 for a wrong one; 0 on all earlier steps.

    ## Termination
    After 2K + 3 steps (one per symbol). The final ``info`` has ``is_success``.

    ## Arguments
    ``num_pairs`` (K, default 4, 1…26), ``render_mode`` (``"rgb_array"``: the tokens seen so far
    as a token×time picture).

    ## Registered Configurations
    ``AssociativeRecall-v0`` (K = 4), ``AssociativeRecall-K8-v0`` (K = 8).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, num_pairs: int = 4, render_mode: str | None = None) -> None:
        self.num_pairs = check_int("num_pairs", num_pairs, 1, len(KEYS), " (the key alphabet)")
        self.render_mode = check_render_mode(render_mode, self.metadata)
        self.length = 2 * self.num_pairs + 3
        self.observation_space = spaces.Box(0.0, 1.0, (len(VOCAB),), np.float32)
        self.action_space = spaces.Discrete(len(VALUES))
        self.tokens = np.zeros(self.length, np.int64)
        self.answer = 0
        self.t = 0
        self._history: list[np.ndarray] = []

    def _observe(self) -> np.ndarray:
        obs = np.zeros(len(VOCAB), np.float32)
        obs[self.tokens[self.t]] = 1.0
        if self.render_mode is not None:
            self._history.append(obs)
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        tokens, answers = sample_retrieval(self.np_random, 1, self.num_pairs)
        self.tokens, self.answer = tokens[0], int(answers[0])
        self.t = 0
        self._history = []
        return self._observe(), {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be a digit 0-9, got {action!r}")
        self.t += 1
        if self.t < self.length:
            return self._observe(), 0.0, False, False, {}
        correct = int(action) == self.answer
        final = np.zeros(len(VOCAB), np.float32)
        return final, 1.0 if correct else -1.0, True, False, {"is_success": correct}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return _timeline_picture(self._history, self.length, len(VOCAB), self.length - 1)


class DelayedRecallEnv(gym.Env[np.ndarray, np.int64]):
    """
    ## Description
    A cue (one of ``num_cues`` symbols) is shown only at step 0; after ``delay`` steps of blank
    observations a query flag appears, and the agent must answer which cue it saw. Sweeping
    ``delay`` measures how far back a memory reaches (like bsuite's ``memory_len``).

    ## Action Space
    ``Discrete(num_cues)``: the cue answered. Only the action taken at the query is scored.

    ## Observation Space
    ``Box(0, 1, (num_cues + 1,), float32)``: at step 0 the cue's one-hot; at step ``delay``
    the last entry (the query flag) is 1; all zeros in between.

    ## Rewards
    +1 for the right cue at the query step, −1 for a wrong one; 0 before.

    ## Termination
    After ``delay + 1`` steps. The final ``info`` has ``is_success``.

    ## Arguments
    ``delay`` (L ≥ 1, default 10), ``num_cues`` (≥ 2, default 2), ``render_mode`` (``"rgb_array"``).

    ## Registered Configurations
    ``DelayedRecall-v0`` (L = 10) and ``DelayedRecall-L{1,3,10,30,100}-v0``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(self, delay: int = 10, num_cues: int = 2, render_mode: str | None = None) -> None:
        self.delay = check_int("delay", delay, 1)
        self.num_cues = check_int("num_cues", num_cues, 2)
        self.render_mode = check_render_mode(render_mode, self.metadata)
        self.observation_space = spaces.Box(0.0, 1.0, (self.num_cues + 1,), np.float32)
        self.action_space = spaces.Discrete(self.num_cues)
        self.cue = 0
        self.t = 0
        self._history: list[np.ndarray] = []

    def _observe(self) -> np.ndarray:
        obs = np.zeros(self.num_cues + 1, np.float32)
        if self.t == 0:
            obs[self.cue] = 1.0
        if self.t == self.delay:
            obs[-1] = 1.0
        if self.render_mode is not None:
            self._history.append(obs)
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.cue = int(self.np_random.integers(self.num_cues))
        self.t = 0
        self._history = []
        return self._observe(), {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be a cue index in [0, {self.num_cues}), got {action!r}")
        if self.t < self.delay:
            self.t += 1
            return self._observe(), 0.0, False, False, {}
        correct = int(action) == self.cue
        return (
            np.zeros(self.num_cues + 1, np.float32),
            1.0 if correct else -1.0,
            True,
            False,
            {"is_success": correct},
        )

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return _timeline_picture(self._history, self.delay + 1, self.num_cues + 1, self.delay)
