"""Small drawing helpers shared by the environments' ``render`` and the video tool."""

from __future__ import annotations

import numpy as np

VISIBLE_COLOR = np.array([40, 200, 90], np.uint8)  # frame colour while the agent sees the screen
BLANK_COLOR = np.array([230, 50, 50], np.uint8)  # frame colour once the agent's view is blank


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale of an (H, W) or (H, W, C) array."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def observation_image(obs: np.ndarray, height: int = 256) -> np.ndarray:
    """Draw any observation as an RGB uint8 picture about ``height`` pixels tall.

    2-D arrays are shown as grey levels (a screen), 1-D vectors as a row of cells, and
    (H, W, 3) arrays as images. Values are scaled by the array's own range.
    """
    obs = np.asarray(obs, dtype=np.float32)
    if obs.ndim == 3 and obs.shape[-1] == 3:
        scaled = obs / max(float(obs.max()), 1e-8)
        grey = (scaled * 255).astype(np.uint8)
        return upscale(grey, max(1, height // obs.shape[0]))
    if obs.ndim == 1:
        obs = obs[None, :]
    elif obs.ndim != 2:
        obs = obs.reshape(obs.shape[0], -1)
    lo, hi = float(obs.min()), float(obs.max())
    scaled = (obs - min(lo, 0.0)) / max(hi - min(lo, 0.0), 1e-8)
    grey = (scaled * 255).astype(np.uint8)
    rgb = np.stack([grey] * 3, axis=-1)
    factor = max(1, min(height // obs.shape[0], 768 // obs.shape[1]))
    return upscale(rgb, factor)
