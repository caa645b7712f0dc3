"""MiniGrid's partial view, computed fast, and fed to a policy as one-hot channels.

MiniGrid builds the agent's 7×7 view cell by cell in Python (slice the grid, rotate it once per
quarter turn, propagate visibility, encode): about 0.3 ms a step, more than the rest of the step
and the policy together. :func:`partial_view` computes the same array from the encoded grid with
numpy and one compiled visibility pass (tested equal to ``env.gen_obs()["image"]`` over random
play in several MiniGrid envs), and :class:`MiniGridOneHot` makes it the env's own ``gen_obs``.

The encoded view holds small integers (object type 0–10, colour 0–5, state 0–2). Stable-Baselines3
treats a uint8 (H, W, 3) array as a picture and divides it by 255, so a network would read values
of at most 0.04 that are categories, not intensities; :class:`MiniGridOneHot` gives it one-hot
channels instead: ``(11 + 6 + 3, 7, 7)`` float32, channels first.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numba
import numpy as np

N_OBJECTS, N_COLOURS, N_STATES = 11, 6, 3  # minigrid.core.constants: OBJECT_TO_IDX, COLOR_TO_IDX, STATE_TO_IDX
CHANNELS = N_OBJECTS + N_COLOURS + N_STATES
EMPTY, WALL, DOOR, GREY, DOOR_OPEN = 1, 2, 4, 5, 0
UNSEEN = (0, 0, 0)


def encode_grid(grid: Any) -> np.ndarray:
    """The whole grid's ``(width, height, 3)`` encoding, every cell visible (``Grid.encode()``)."""
    cells = [(EMPTY, 0, 0) if cell is None else cell.encode() for cell in grid.grid]
    # Grid.grid is row-major (index y * width + x); the encoding is indexed [x, y]
    return np.array(cells, dtype=np.uint8).reshape(grid.height, grid.width, 3).transpose(1, 0, 2)


@numba.njit(cache=True)
def _visible(view: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """``Grid.process_vis`` on an encoded view indexed [x, y], the agent at the bottom centre."""
    size = view.shape[0]
    mask = np.zeros((size, size), dtype=np.bool_)
    mask[size // 2, size - 1] = True
    for j in range(size - 1, -1, -1):
        for i in range(0, size - 1):
            if not mask[i, j] or view[i, j, 0] == WALL or (view[i, j, 0] == DOOR and view[i, j, 2] != DOOR_OPEN):
                continue
            mask[i + 1, j] = True
            if j > 0:
                mask[i + 1, j - 1] = True
                mask[i, j - 1] = True
        for i in range(size - 1, 0, -1):
            if not mask[i, j] or view[i, j, 0] == WALL or (view[i, j, 0] == DOOR and view[i, j, 2] != DOOR_OPEN):
                continue
            mask[i - 1, j] = True
            if j > 0:
                mask[i - 1, j - 1] = True
                mask[i, j - 1] = True
    return mask


def partial_view(env: Any) -> np.ndarray:
    """``env.gen_obs()["image"]`` of a MiniGrid env (``see_through_walls`` either way), fast."""
    size = env.agent_view_size
    top_x, top_y, _, _ = env.get_view_exts(size)
    full = encode_grid(env.grid)
    # cells outside the grid read as grey walls, as Grid.slice makes them
    padded = np.empty((full.shape[0] + 2 * size, full.shape[1] + 2 * size, 3), np.uint8)
    padded[...] = (WALL, GREY, 0)
    padded[size:-size, size:-size] = full
    view = padded[top_x + size : top_x + 2 * size, top_y + size : top_y + 2 * size]
    for _ in range(env.agent_dir + 1):  # Grid.rotate_left: new[j, size-1-i] = old[i, j]
        view = view.transpose(1, 0, 2)[:, ::-1]
    view = np.ascontiguousarray(view)
    mask = np.ones((size, size), bool) if env.see_through_walls else _visible(view)
    # the agent's own cell shows what it carries (else empty)
    view[size // 2, size - 1] = env.carrying.encode() if env.carrying is not None else (EMPTY, 0, 0)
    view[~mask] = UNSEEN
    return view


@functools.cache
def _cell_indices(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column index of every cell of a ``size`` × ``size`` view (built once per size)."""
    return tuple(np.indices((size, size)))


def one_hot(view: np.ndarray) -> np.ndarray:
    """``(CHANNELS, V, V)`` float32: object type, colour and state of each cell as one-hot channels."""
    size = view.shape[0]
    out = np.zeros((CHANNELS, size, size), np.float32)
    rows, cols = _cell_indices(size)
    out[view[..., 0], rows, cols] = 1.0
    out[N_OBJECTS + view[..., 1], rows, cols] = 1.0
    out[N_OBJECTS + N_COLOURS + view[..., 2], rows, cols] = 1.0
    return out


def _uses_stock_view(env: Any) -> bool:
    from minigrid.minigrid_env import MiniGridEnv

    cls = type(env)
    return cls.gen_obs is MiniGridEnv.gen_obs and cls.gen_obs_grid is MiniGridEnv.gen_obs_grid


class MiniGridOneHot(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """A MiniGrid env's partial view as one-hot channels ``(20, 7, 7)`` float32 (see the module doc),
    and ``info["is_success"]`` at the end of each episode (a positive reward on termination).

    Envs that keep MiniGrid's own ``gen_obs`` get :func:`partial_view` in its place (the Dict
    observation keeps its direction and mission; only the image is computed differently); an env
    that overrides the view is left as it is. The mission string is constant for the Memory tasks
    and the direction is visible in the view's layout, so the image alone is the observation.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        size = env.observation_space["image"].shape[0]
        self.observation_space = gym.spaces.Box(0.0, 1.0, (CHANNELS, size, size), np.float32)
        base = env.unwrapped
        if _uses_stock_view(base):
            base.gen_obs = lambda: {"image": partial_view(base), "direction": base.agent_dir, "mission": base.mission}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = super().step(action)
        if terminated or truncated:  # MiniGrid pays a positive reward only for reaching the goal
            info = {**info, "is_success": bool(terminated and reward > 0)}
        return obs, reward, terminated, truncated, info

    def observation(self, observation: dict) -> np.ndarray:
        return one_hot(observation["image"])
