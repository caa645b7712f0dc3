"""Learning curves from run folders: train.plot and fw_agents.plotting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from helpers import train_run

from train._cli import run_cli


def test_plot_groups_runs_by_core(tmp_path, capsys):
    from train import plot

    for core, seed in (("fw", 0), ("fw", 1), ("lstm", 0)):
        name = f"{core}{seed}"
        assert train_run(tmp_path, "--core", core, "--seed", str(seed), name=name, timesteps=256) == 0
    out = tmp_path / "curves.png"
    runs = [str(tmp_path / n) for n in ("fw0", "fw1", "lstm0")]
    assert run_cli(plot.main, [*runs, "--out", str(out), "--reference", "oracle:1.0", "memoryless:0.435"]) == 0
    assert out.stat().st_size > 1000 and "groups: fw-lstm, lstm" in capsys.readouterr().out
    assert run_cli(plot.main, [str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_plot_aggregates_over_seeds():
    from fw_agents.plotting import Curve, aggregate

    a = Curve(Path("a"), "fw", np.array([0.0, 10.0]), np.array([0.0, 1.0]))
    b = Curve(Path("b"), "fw", np.array([0.0, 20.0]), np.array([0.0, 0.5]))
    grid, mean, low, high = aggregate([a, b], points=3)["fw"]
    np.testing.assert_allclose(grid, [0.0, 5.0, 10.0])
    np.testing.assert_allclose(mean, [0.0, (0.5 + 0.125) / 2, (1.0 + 0.25) / 2])
    np.testing.assert_allclose(low, [0.0, 0.125, 0.25])
    np.testing.assert_allclose(high, [0.0, 0.5, 1.0])
