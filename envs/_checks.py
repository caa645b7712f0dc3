"""Argument checks shared by the environments: a ValueError that names the argument."""

from __future__ import annotations

import numpy as np


def check_int(name: str, value: object, minimum: int, maximum: int | None = None, why: str = "") -> int:
    """``value`` as an int in [minimum, maximum], else ``ValueError`` naming ``name``."""
    in_range = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    in_range = in_range and value >= minimum and (maximum is None or value <= maximum)
    if not in_range:
        bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bounds}{why}, got {value!r}")
    return int(value)


def check_render_mode(render_mode: str | None, metadata: dict) -> str | None:
    if render_mode is not None and render_mode not in metadata["render_modes"]:
        raise ValueError(f"render_mode must be one of {metadata['render_modes']} or None, got {render_mode!r}")
    return render_mode
