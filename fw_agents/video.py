"""Rollout videos: the true state, what the agent observed, and what a fast-weight agent recalls.

Each frame has up to three panels:

1. the env's ``render()`` (the true state; MemoryCatch frames it red once the view is blank),
2. the observation the agent received (black when the screen is blank),
3. for fast-weight policies, the attention weights of the memory read at this step: the
   core computes A(t)·h₀ = Σ_τ w_τ h(τ) with w_τ = η·λ^{t−τ}·h(τ)ᵀh₀, where h₀ = ReLU(W h(t) +
   C x(t) + b) is the first inner-loop vector. The panel draws w_τ for every past step τ of
   the episode (green bars: steps whose observation was visible; grey: blank), recomputed from
   the core's own parameters and the hidden states it carried — what the agent attends to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.policies import BaseModel

from envs.render import observation_image
from fw_agents.atomic import atomic_path
from fw_agents.cores import FastWeightRNN
from fw_agents.evaluation import play
from fw_agents.policies import CoreAdapter

PANEL = 256
VISIBLE_BAR = np.array([60, 200, 100], np.uint8)
BLANK_BAR = np.array([150, 150, 150], np.uint8)


def fast_weight_core(model: RecurrentPPO) -> FastWeightRNN | None:
    """The actor's fast-weight core, or ``None`` for other cores."""
    actor = getattr(model.policy, "lstm_actor", None)
    if isinstance(actor, CoreAdapter) and isinstance(actor.core, FastWeightRNN):
        return actor.core
    return None


def read_weights(core: FastWeightRNN, features: torch.Tensor, h_prev: torch.Tensor, past: torch.Tensor) -> np.ndarray:
    """Layer 0's attention weights w_τ = η λ^{t−τ} h(τ)ᵀ h₀ over ``past`` (K, H), oldest first.

    ``features`` (F,) is x(t), ``h_prev`` (H,) is h(t) (the newest entry of ``past``).
    """
    with torch.no_grad():
        z = core.C[0] @ features + core.bias[0] + core.W[0] @ h_prev
        query = torch.relu(z)
        ages = torch.arange(past.shape[0] - 1, -1, -1, dtype=past.dtype)
        weights = float(core.fast_lr_of(0)) * float(core.decay_of(0)) ** ages * (past @ query)
    return weights.cpu().numpy()


def attention_panel(weights: np.ndarray, visible: list[bool], length: int) -> np.ndarray:
    """Bar chart of ``weights`` (one bar per past step), scaled to the largest bar."""
    panel = np.full((PANEL, PANEL, 3), 16, np.uint8)
    panel[-2:, :] = 90  # baseline
    if len(weights) == 0:
        return panel
    slots = max(length, len(weights))
    width = max(1, PANEL // slots)
    top = float(np.abs(weights).max()) or 1.0
    for tau, w in enumerate(weights):
        height = round((PANEL - 12) * abs(float(w)) / top)
        colour = VISIBLE_BAR if tau < len(visible) and visible[tau] else BLANK_BAR
        x0 = tau * width
        panel[PANEL - 2 - height : PANEL - 2, x0 : x0 + max(1, width - 1)] = colour
    return panel


def _fit(image: np.ndarray, height: int = PANEL) -> np.ndarray:
    """Centre a short frame on a ``height``-row canvas; shrink a taller one (nearest neighbour)."""
    if image.shape[0] > height:
        rows = np.linspace(0, image.shape[0] - 1, height).astype(int)
        cols = np.linspace(0, image.shape[1] - 1, max(1, image.shape[1] * height // image.shape[0])).astype(int)
        image = image[rows][:, cols]
    if image.shape[0] < height:
        top = (height - image.shape[0]) // 2
        canvas = np.full((height, image.shape[1], 3), 40, np.uint8)
        canvas[top : top + image.shape[0]] = image
        image = canvas
    return image


def compose(panels: list[np.ndarray]) -> np.ndarray:
    gap = np.full((PANEL, 8, 3), 255, np.uint8)
    parts: list[np.ndarray] = []
    for panel in panels:
        if parts:
            parts.append(gap)
        parts.append(_fit(panel))
    return np.concatenate(parts, axis=1)


def record(
    model: RecurrentPPO, env: gym.Env, episodes: int = 3, deterministic: bool = True, seed: int = 0
) -> tuple[list[np.ndarray], list[float]]:
    """Roll out ``episodes`` episodes in ``env`` (made with ``render_mode="rgb_array"``).

    Returns the composed frames and each episode's return.
    """
    core = fast_weight_core(model)
    policy = model.policy
    length = getattr(env.unwrapped, "size", 16) - 1 if hasattr(env.unwrapped, "size") else 32
    frames: list[np.ndarray] = []
    hiddens: list[torch.Tensor] = []
    visible: list[bool] = []

    def draw(obs: Any, state: tuple | None) -> None:
        panels = [env.render(), observation_image(obs)]
        if state is None:  # an episode starts: the memory is empty
            hiddens.clear()
            visible.clear()
        if core is not None:
            if state is None:
                h_prev = torch.zeros(core.hidden_size)
            else:
                packed = (torch.as_tensor(state[0]), torch.as_tensor(state[1]))
                h_prev = policy.lstm_actor.to_core_state(packed)[0][0, 0]  # layer 0, env 0
                hiddens.append(h_prev)
            obs_tensor, _ = policy.obs_to_tensor(obs)
            with torch.no_grad():
                features = BaseModel.extract_features(policy, obs_tensor, policy.pi_features_extractor)
            past = torch.stack(hiddens) if hiddens else torch.zeros(0, core.hidden_size)
            weights = read_weights(core, features[0].float(), h_prev, past)
            panels.append(attention_panel(weights, visible, length))
        visible.append(bool(np.asarray(obs).any()))
        frames.append(compose(panels))

    returns = []
    for episode in play(model, env, episodes, deterministic, seed, before_step=draw):
        frames.extend([compose([env.render(), observation_image(episode.last_obs)])] * 3)  # hold the outcome
        returns.append(episode.total_return)
    return frames, returns


def write(frames: list[np.ndarray], path: Path, fps: int = 4) -> Path:
    """Write a .gif (built in) or .mp4 (imageio-ffmpeg) atomically."""
    import imageio.v2 as imageio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"video must end in .gif or .mp4, got {path.name!r}")
    width = max(f.shape[1] for f in frames)
    frames = [np.pad(f, ((0, 0), (0, width - f.shape[1]), (0, 0)), constant_values=255) for f in frames]
    with atomic_path(path) as tmp:
        if suffix == ".gif":
            imageio.mimsave(tmp, frames, duration=1000 / fps, loop=0)
        else:
            even = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]
            imageio.mimsave(tmp, even, fps=fps, macro_block_size=1)
    return path
