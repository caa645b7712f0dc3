"""Learning curves from run folders: periodic evaluations, grouped by core across seeds."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fw_agents.errors import UsageError
from fw_agents.run_folder import read_config


@dataclass
class Curve:
    """One run's evaluation curve: env steps and the metric at each evaluation."""

    run: Path
    group: str
    steps: np.ndarray
    values: np.ndarray


def read_evaluations(
    run: Path, metric: str = "success", hint: str = "use --metric return"
) -> tuple[np.ndarray, np.ndarray] | None:
    """A run folder's periodic evaluations: env steps and the metric at each (``None`` before the first).

    :param metric: ``"success"`` (mean of the env's ``is_success``, e.g. catch rate) or
        ``"return"`` (mean episode return).
    :param hint: what to tell a user whose env reports no ``is_success``.
    """
    if metric not in ("success", "return"):
        raise UsageError(f"metric must be 'success' or 'return', got {metric!r}")
    path = Path(run) / "eval" / "evaluations.npz"
    if not path.exists():
        return None
    data = np.load(path)
    if data["timesteps"].size == 0:
        return None
    if metric == "success":
        if "successes" not in data or data["successes"].size == 0:
            raise UsageError(f"{run}: the env reports no is_success; {hint}")
        values = data["successes"].mean(axis=1)
    else:
        values = data["results"].mean(axis=1)
    return data["timesteps"].astype(float), values.astype(float)


def load_curve(run: Path, metric: str = "success", group_by: str = "core") -> Curve:
    """Read ``eval/evaluations.npz`` of a run folder (:func:`read_evaluations`).

    :param group_by: configuration key whose value labels the run (``core``, ``env_id``, …).
    """
    run = Path(run)
    config = read_config(run)
    evaluations = read_evaluations(run, metric)
    if evaluations is None:
        raise UsageError(f"{run} has no evaluations yet ({run / 'eval' / 'evaluations.npz'} is missing or empty)")
    if group_by not in config:
        raise UsageError(f"{run}/config.yml has no key {group_by!r} to group by")
    return Curve(run, str(config[group_by]), *evaluations)


def aggregate(
    curves: list[Curve], points: int = 100
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per group: a common step grid and the mean, min and max over its runs (linear interpolation,
    over the steps every run of the group reached)."""
    groups: dict[str, list[Curve]] = defaultdict(list)
    for curve in curves:
        groups[curve.group].append(curve)
    out = {}
    for group, members in groups.items():
        end = min(c.steps[-1] for c in members)
        start = max(c.steps[0] for c in members)
        grid = np.linspace(start, end, points) if end > start else np.array([end])
        stacked = np.stack([np.interp(grid, c.steps, c.values) for c in members])
        out[group] = (grid, stacked.mean(0), stacked.min(0), stacked.max(0))
    return out


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (the library writes PNGs, never opens windows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_curves(ax, curves: list[Curve], references: dict[str, float] | None = None,
                colours: dict[str, str] | None = None) -> None:  # fmt: skip
    """On ``ax``: the mean line and min–max band of each group (``colours`` by group, else C0, C1, … in
    sorted order) and horizontal reference lines."""
    for i, (group, (grid, mean, low, high)) in enumerate(sorted(aggregate(curves).items())):
        n = sum(c.group == group for c in curves)
        colour = colours[group] if colours else f"C{i}"
        ax.plot(grid, mean, color=colour, label=f"{group} (n={n})")
        ax.fill_between(grid, low, high, color=colour, alpha=0.2)
    for j, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, color="0.3", linestyle=["--", ":", "-."][j % 3], linewidth=1, label=label)
    ax.grid(alpha=0.3)


def plot_curves(curves: list[Curve], out: Path, metric: str = "success", title: str | None = None,
                references: dict[str, float] | None = None) -> Path:  # fmt: skip
    """Mean line and min–max band per group, optional horizontal reference lines; writes a PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    draw_curves(ax, curves, references)
    ax.set_xlabel("env steps")
    ax.set_ylabel("success rate (catch rate)" if metric == "success" else "mean return")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
