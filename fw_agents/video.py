"""Rollout videos: the true state, what the agent observed, and what a fast-weight agent recalls.

Each frame has a header (episode, step, the action taken and the reward it earned) and up to three
captioned panels:

1. "true state": the env's ``render()`` (MemoryCatch frames it red once the view is blank; MiniGrid
   draws the full grid with the agent's view highlighted),
2. "what the agent sees": the observation (MiniGrid: its own picture of the partial view),
3. "fast-weight read over past steps", for cores with a memory to show, how much of the memory
   read at this step comes from each past step τ of the episode (green bars: steps whose
   observation was visible; grey: blank — a legend under the panel says so): Σ_heads |w_τ| from
   the core's own :meth:`~fw_agents.cores.RecurrentCore.read_weights` over the episode's inputs —
   what the agent recalls. For the default core (:class:`~fw_agents.cores.FastWeightLSTM`) the read
   of each head is Σ_τ w_τ v(τ) over the values written at every step; for Ba et al.'s cores
   (:class:`~fw_agents.cores.FastWeightRNN`) it is A(t)·h₀ = Σ_τ w_τ h(τ) over the hidden states
   the memory holds.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.policies import BaseModel

from envs.memory_catch import MemoryCatchEnv
from envs.render import observation_image
from fw_agents.atomic import atomic_path
from fw_agents.cores import RecurrentCore
from fw_agents.evaluation import play
from fw_agents.policies import CoreAdapter

PANEL = 256
VISIBLE_BAR = np.array([60, 200, 100], np.uint8)
BLANK_BAR = np.array([150, 150, 150], np.uint8)


def memory_core(model: RecurrentPPO) -> RecurrentCore | None:
    """The actor's core (``None`` for sb3-contrib's own LSTM policies)."""
    actor = getattr(model.policy, "lstm_actor", None)
    return actor.core if isinstance(actor, CoreAdapter) else None


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


CAPTION = 22  # pixels of caption strip above each panel, and of the frame's header
TEXT = np.array([235, 235, 235], np.uint8)
STRIP = np.array([32, 32, 40], np.uint8)
CAPTIONS = ("true state", "what the agent sees", "fast-weight read over past steps")


@functools.cache
def _font() -> Any:
    """Pillow's built-in font, loaded once (every caption of every frame uses it)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=13)


def text_strip(width: int, text: str, height: int = CAPTION) -> np.ndarray:
    """A dark strip ``height`` × ``width`` with ``text`` in light letters (Pillow's built-in font)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), tuple(int(c) for c in STRIP))
    ImageDraw.Draw(image).text((6, (height - 14) // 2), text, fill=tuple(int(c) for c in TEXT), font=_font())
    return np.asarray(image, dtype=np.uint8)


def legend_strip(width: int) -> np.ndarray:
    """The memory panel's legend: what a bar's height and its two colours mean."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, 2 * CAPTION), tuple(int(c) for c in STRIP))
    draw = ImageDraw.Draw(image)
    light = tuple(int(c) for c in TEXT)
    draw.text((6, 4), "bar height: weight of a past step", fill=light, font=_font())
    x = 6
    for colour, label in ((VISIBLE_BAR, "input visible"), (BLANK_BAR, "input blank")):
        draw.rectangle((x, CAPTION + 5, x + 11, CAPTION + 16), fill=tuple(int(c) for c in colour))
        draw.text((x + 16, CAPTION + 3), label, fill=light, font=_font())
        x += 16 + int(draw.textlength(label, font=_font())) + 14
    return np.asarray(image, dtype=np.uint8)


def captioned(panel: np.ndarray, caption: str, legend: bool = False) -> np.ndarray:
    """The panel (fitted to :data:`PANEL` rows) under its caption; the memory panel also gets its legend."""
    panel = _fit(panel)
    parts = [text_strip(panel.shape[1], caption), panel]
    if legend:
        parts.append(legend_strip(panel.shape[1]))
    return np.concatenate(parts, axis=0)


def compose(panels: list[np.ndarray], header: str | None = None) -> np.ndarray:
    """Captioned panels side by side (captions from :data:`CAPTIONS`, in order), under a header line."""
    parts: list[np.ndarray] = []
    for i, panel in enumerate(panels):
        part = captioned(panel, CAPTIONS[i], legend=i == 2)
        if parts:
            parts.append(np.full((part.shape[0], 8, 3), 255, np.uint8))
        parts.append(part)
    height = max(p.shape[0] for p in parts)
    parts = [np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0)), constant_values=255) for p in parts]
    body = np.concatenate(parts, axis=1)
    if header is None:
        return body
    return np.concatenate([text_strip(body.shape[1], header), body], axis=0)


def seen_panel(env: gym.Env, obs: Any) -> np.ndarray:
    """What the agent sees: MiniGrid's own picture of the partial view, else the observation drawn."""
    pov = getattr(env.unwrapped, "get_pov_render", None)
    if pov is not None:
        return pov(tile_size=32)
    return observation_image(obs)


def action_name(env: gym.Env, action: Any) -> str:
    """The action's name where the env gives one (MiniGrid's ``actions`` enum, an ``action_names``
    tuple), else its value."""
    base = env.unwrapped
    try:
        index = int(np.asarray(action).reshape(-1)[0]) if np.asarray(action).size == 1 else None
    except (TypeError, ValueError):
        index = None
    if index is None:
        return str(np.asarray(action).round(2).tolist())
    if getattr(base, "actions", None) is not None:
        return base.actions(index).name
    names = getattr(base, "action_names", None)
    return names[index] if names is not None and 0 <= index < len(names) else str(index)


def record(
    model: RecurrentPPO, env: gym.Env, episodes: int = 3, deterministic: bool = True, seed: int = 0
) -> tuple[list[np.ndarray], list[float]]:
    """Roll out ``episodes`` episodes in ``env`` (made with ``render_mode="rgb_array"``).

    Returns the composed frames and each episode's return. Every frame is captioned and carries a
    header: the episode, the step, the action taken from this state and the reward it earned.
    """
    core = memory_core(model)
    policy = model.policy
    length = env.unwrapped.size - 1 if isinstance(env.unwrapped, MemoryCatchEnv) else 32
    frames: list[np.ndarray] = []
    inputs: list[torch.Tensor] = []
    visible: list[bool] = []
    pending: list[np.ndarray] = []
    counter = {"episode": 1, "step": 0, "return": 0.0}

    def draw(obs: Any, state: tuple | None) -> None:
        panels = [env.render(), seen_panel(env, obs)]
        if state is None:  # an episode starts: the memory is empty
            inputs.clear()
            visible.clear()
        visible.append(bool(np.asarray(obs).any()))
        if core is not None:
            obs_tensor, _ = policy.obs_to_tensor(obs)
            with torch.no_grad():
                features = BaseModel.extract_features(policy, obs_tensor, policy.pi_features_extractor)
            inputs.append(features[0].float())
            weights = core.read_weights(torch.stack(inputs))
            if weights is not None:
                panels.append(attention_panel(weights.abs().sum(0).cpu().numpy(), visible, length))
        pending[:] = panels

    def after(action: Any, reward: float) -> None:
        counter["step"] += 1
        counter["return"] += reward
        header = (f"episode {counter['episode']} · step {counter['step']} · action {action_name(env, action)} · "
                  f"reward {reward:+.2f} · return {counter['return']:+.2f}")  # fmt: skip
        frames.append(compose(pending, header))

    returns = []
    for episode in play(model, env, episodes, deterministic, seed, before_step=draw, after_step=after):
        outcome = "success" if episode.info.get("is_success") else "end"
        header = f"episode {counter['episode']} · {outcome} after {episode.length} steps"
        header += f" · return {episode.total_return:+.2f}"
        frames.extend([compose([env.render(), seen_panel(env, episode.last_obs)], header)] * 3)  # hold the outcome
        returns.append(episode.total_return)
        counter.update(episode=counter["episode"] + 1, step=0, **{"return": 0.0})
    return frames, returns


def write(frames: list[np.ndarray], path: Path, fps: int = 4) -> Path:
    """Write a .gif (built in) or .mp4 (imageio-ffmpeg) atomically."""
    import imageio.v2 as imageio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"video must end in .gif or .mp4, got {path.name!r}")
    height, width = max(f.shape[0] for f in frames), max(f.shape[1] for f in frames)
    frames = [np.pad(f, ((0, height - f.shape[0]), (0, width - f.shape[1]), (0, 0)), constant_values=255)
              for f in frames]  # fmt: skip
    with atomic_path(path) as tmp:
        if suffix == ".gif":
            imageio.mimsave(tmp, frames, duration=1000 / fps, loop=0)
        else:
            even = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]
            imageio.mimsave(tmp, even, fps=fps, macro_block_size=1)
    return path
