"""Every benchmark script compiles and answers --help (their real runs are long)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = sorted(p for p in (Path(__file__).resolve().parent.parent / "benchmarks").glob("*.py")
                    if not p.name.startswith("_"))  # fmt: skip


def test_all_benchmarks_are_found():
    names = {p.stem for p in BENCHMARKS}
    assert {"core_speed", "ppo_speed", "env_speed", "assoc_table", "glimpse_table", "catch_curves"} <= names


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_answers_help(script):
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout


@pytest.fixture
def catch_curves(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS[0].parent))
    import catch_curves

    return catch_curves


def test_catch_curves_gives_every_core_the_same_tuning_budget(catch_curves):
    grids = {core: catch_curves.tuning_grid(core) for core in catch_curves.CORES}
    assert {len(grid) for grid in grids.values()} == {6}
    assert all("learning_rate" in overrides for grid in grids.values() for overrides in grid.values())


@pytest.mark.parametrize("setting", ["16", "24"])
def test_catch_curves_matches_recurrent_parameters(catch_curves, setting):
    inputs = catch_curves.INPUT_SIZE[setting]
    target = catch_curves.core_parameters(catch_curves.FW, 64, inputs)
    for core in catch_curves.CORES:
        params = catch_curves.core_parameters(core, catch_curves.matched_hidden(core, inputs), inputs)
        assert abs(params - target) / target < 0.05, core
    overrides = catch_curves.with_hidden({"policy_kwargs": {"fast_lr": 0.1}}, "lstm", setting)
    hidden = catch_curves.matched_hidden("lstm", inputs)
    assert overrides["policy_kwargs"] == {"fast_lr": 0.1, "lstm_hidden_size": hidden}


def test_steps_to_threshold(catch_curves):
    import _common  # on the path through the catch_curves fixture

    steps, values = np.array([0, 10, 20, 30]), np.array([0.1, 0.6, 0.4, 0.9])
    assert _common.steps_to(steps, values, 0.5) == 10
    assert _common.steps_to(steps, values, 0.95) is None


@pytest.mark.parametrize(
    ("script", "names", "marker", "column"),
    [
        ("delayed_recall", "CORES", "delayed-recall", 0),
        ("cartpole_novel", "POLICIES", "cartpole-novel", 0),
        ("core_speed", "CORES", "core-speed", 4),
        ("ppo_speed", "VARIANTS", "ppo-speed", 0),
    ],
)
def test_published_tables_have_the_rows_their_scripts_produce(monkeypatch, script, names, marker, column):
    """A table in RESULTS.md lists exactly what its script runs today: a script that changed its
    cores or labels must have its table re-run (or the change pinned), not left to drift."""
    monkeypatch.syspath_prepend(str(BENCHMARKS[0].parent))
    module = __import__(script)
    produced = [entry if isinstance(entry, str) else entry[0] for entry in getattr(module, names)]
    text = (BENCHMARKS[0].parent.parent / "RESULTS.md").read_text()
    body = text[text.index(f"<!-- {marker} -->") : text.index(f"<!-- /{marker} -->")]
    published = []
    for line in body.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) > column and cells[column] and not set(cells[column]) <= {"-"}:
            published.append(cells[column])
    published = [row for row in published if row not in ("core", "policy")]  # header rows
    assert sorted(set(published)) == sorted(set(produced))


def test_cue_probe_look_table_replays_the_same_layouts(monkeypatch, capsys):
    """The probe's scripted look plays the same held-out layouts as the policy's own opening: the
    same split by whether the cue was in view at reset, every episode counted once."""
    monkeypatch.syspath_prepend(str(BENCHMARKS[0].parent))
    import minigrid_cue_probe
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    import envs
    from fw_agents import FastWeightMlpPolicy

    vec = make_vec_env(lambda: envs.make_env("MiniGrid-MemoryS7-v0"), n_envs=1, seed=0)
    model = RecurrentPPO(FastWeightMlpPolicy, vec, policy_kwargs={"lstm_hidden_size": 16}, seed=0)
    env = envs.make_env("MiniGrid-MemoryS7-v0")
    own, in_view = minigrid_cue_probe.played_from_reset_view(model, env, 8, False, 3)
    minigrid_cue_probe.look_table(model, env, own, in_view, False, 3)
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| the policy")
            or line.startswith("| scripted")]  # fmt: skip
    assert len(rows) == 2
    counts = [[int(cell.split("(")[1].rstrip(")")) for cell in row[1:3] if "(" in cell] for row in rows]
    assert counts[0] == counts[1] and sum(counts[0]) == 8


def test_forget_retention_pairs_differ_only_at_the_first_step(monkeypatch):
    """The retention benchmark's pairs share every view after the first, so the output gap starts
    at 1 and, in an untrained LSTM core, a forget gate opened wider keeps more of it."""
    monkeypatch.syspath_prepend(str(BENCHMARKS[0].parent))
    import forget_retention

    firsts, rests = forget_retention.episodes("MiniGrid-MemoryS7-v0", 6, 4, 0)
    assert len(firsts) == 6 and all(len(rest) == 4 for rest in rests)
    curves = {bias: forget_retention.retention(forget_retention.untrained_policy("MiniGrid-MemoryS7-v0", "lstm",
                                                                                 bias, 0), firsts, rests)
              for bias in (None, 2.0)}  # fmt: skip
    for curve in curves.values():
        assert curve[0] == pytest.approx(1.0) and curve.shape == (5,)
    assert curves[2.0][4] > 2 * curves[None][4]


def test_training_log_bins_episodes_and_entropy_by_env_steps(monkeypatch, tmp_path):
    """The training log places each episode at the env steps of every episode ended before it and
    itself (all envs, in the order they ended), and beside them the policy's entropy as PPO logged it."""
    from torch.utils.tensorboard import SummaryWriter

    monkeypatch.syspath_prepend(str(BENCHMARKS[0].parent))
    import training_log

    (tmp_path / "monitor").mkdir()
    for env, rows in ((0, ["1.0,10,1.0", "0.0,30,3.0"]), (1, ["0.0,20,2.0", "0.5,40,4.0"])):
        (tmp_path / "monitor" / f"{env}.monitor.csv").write_text('#{"t_start": 0}\nr,l,t\n' + "\n".join(rows) + "\n")
    writer = SummaryWriter(str(tmp_path / "tb" / "ppo_1"))
    for step, loss in ((40, -1.9), (90, -1.0)):
        writer.add_scalar("train/entropy_loss", loss, step)
    writer.close()
    rows = training_log.table(tmp_path, 50)
    # ended at 10, 30 (bin 0) and 60, 100 (bin 50) env steps
    assert rows["episodes"] == [2, 2] and rows["bin"] == [0, 50]
    assert rows["success"] == [0.5, 0.5] and rows["length"] == [15.0, 35.0]
    assert rows["entropy"] == pytest.approx([1.9, 1.0]) and "ent_coef" not in rows
    with pytest.raises(training_log.UsageError, match="not a training run folder"):
        training_log.table(tmp_path / "tb", 50)


def test_silent_units_counts_units_zero_on_every_view(monkeypatch):
    """A unit counts as silent only when it is 0 on every view: pushed far below zero every ReLU
    unit is silent, pushed far above none is, and one unit held below zero is 1 of 64."""
    from fw_agents.config import deep_merge, load_hyperparams
    from fw_agents.training import build_model
    from fw_agents.vec_env import make_vec

    monkeypatch.syspath_prepend(str(BENCHMARKS[0].parent))
    import silent_units

    config = deep_merge(load_hyperparams("MiniGrid-Empty-5x5-v0", "fw-lstm"),
                        {"env_id": "MiniGrid-Empty-5x5-v0", "core": "fw-lstm", "seed": 0, "device": "cpu"})  # fmt: skip
    model = build_model(config, make_vec(config, 1, 0, None, "dummy"))
    views = torch.as_tensor(np.stack([model.observation_space.sample() for _ in range(20)])).float()
    layer = model.policy.pi_features_extractor.linear[1]
    with torch.no_grad():
        layer.bias.fill_(-1e3)
        assert silent_units.health(model, views)[0] == 1.0
        layer.bias.fill_(1e3)
        silent, magnitude, spread = silent_units.health(model, views)
        assert silent == 0.0 and magnitude > 900 and spread > 0
        layer.bias[3] = -1e3
        assert silent_units.health(model, views)[0] == pytest.approx(1 / 64)
