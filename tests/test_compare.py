"""train.compare: suites, scores against hand-computed values, the leaderboard files, resume, bad input."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import yaml

from fw_agents import compare
from fw_agents.errors import UsageError
from train._cli import run_cli

SMALL = {"n_steps": 32, "batch_size": 32, "n_epochs": 1, "eval_episodes": 4, "n_envs": 2,
         "policy_kwargs": {"lstm_hidden_size": 8}}  # fmt: skip


def tiny_suite(tmp_path, **extra):
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump({
        "name": "tiny", "cores": ["fw", "lstm"], "seeds": 1,
        "envs": [
            {"env": "DelayedRecall-L3", "timesteps": 256, "eval_freq": 128, "memoryless": 0.5, "hyperparams": SMALL},
            {"env": "CartPoleNoVel-v1", "timesteps": 256, "eval_freq": 128, "score": "return", "max_return": 500,
             "memoryless": 0.1, "hyperparams": {**SMALL, "normalize": True}},
        ],
        **extra,
    }))  # fmt: skip
    return path


def test_compare_end_to_end_and_resume(tmp_path, capsys):
    from train import compare as cli

    suite, out = tiny_suite(tmp_path), tmp_path / "out"
    assert run_cli(cli.main, ["--suite", str(suite), "--out", str(out)]) == 0
    runs = sorted(p.name for p in (out / "runs").iterdir() if p.is_dir())
    # the suite names the alias "fw": run folders and tables record the permanent name
    assert runs == ["CartPoleNoVel-v1_fw-lstm_seed0", "CartPoleNoVel-v1_lstm_seed0",
                    "DelayedRecall-L3-v0_fw-lstm_seed0", "DelayedRecall-L3-v0_lstm_seed0"]  # fmt: skip
    assert (out / "runs" / "CartPoleNoVel-v1_fw-lstm_seed0" / "vecnormalize.pkl").exists()
    with (out / "leaderboard.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["env"], r["core"]) for r in rows] == [
        ("DelayedRecall-L3-v0", "fw-lstm"), ("DelayedRecall-L3-v0", "lstm"),
        ("CartPoleNoVel-v1", "fw-lstm"), ("CartPoleNoVel-v1", "lstm"),
    ]  # fmt: skip
    # the csv's numbers are the run's own evaluations on the suite's scale
    data = np.load(out / "runs" / "CartPoleNoVel-v1_fw-lstm_seed0" / "eval" / "evaluations.npz")
    final = data["results"].mean(axis=1)[-3:].mean() / 500
    assert float(rows[2]["final_mean"]) == pytest.approx(final, abs=1e-4)
    assert float(rows[2]["normalised"]) == pytest.approx((final - 0.1) / 0.9, abs=1e-4)
    text = (out / "leaderboard.md").read_text()
    assert "| rank | core | overall normalised score | envs |" in text and "| DelayedRecall-L3-v0 | lstm |" in text
    assert (out / "curves.png").stat().st_size > 10_000
    # a second call finds every run finished and trains nothing
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("*.zip")}
    capsys.readouterr()
    assert run_cli(cli.main, ["--suite", str(suite), "--out", str(out)]) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("*.zip")} == stamps
    # another budget in the same folder is refused rather than mixed in
    assert run_cli(cli.main, ["--suite", str(suite), "--out", str(out), "--timesteps", "512"]) == 2
    assert "use another --out" in capsys.readouterr().err


def test_scores_against_hand_computed_values():
    env = compare.SuiteEnv("X", memoryless=0.2, oracle=1.0)
    run = compare.RunScore(0, np.array([100.0, 200.0, 300.0, 400.0]), np.array([0.2, 0.6, 0.8, 1.0]), 10.0)
    assert run.final == pytest.approx((0.6 + 0.8 + 1.0) / 3)
    assert env.normalise(run.final) == pytest.approx((0.8 - 0.2) / 0.8)
    # trapezoids: (0.4 + 0.7 + 0.9) * 100 / 300
    assert run.auc == pytest.approx(2.0 / 3)
    assert env.threshold(0.5) == pytest.approx(0.6)
    assert run.steps_to(env.threshold(0.5)) == 200 and run.steps_to(env.threshold(0.95)) == 400
    assert run.steps_to(1.01) is None
    suite = compare.Suite("s", [env, compare.SuiteEnv("Y")], ["a", "b"], [0])
    rows = [
        compare.Row(env, "a", [run], 1),
        compare.Row(env, "b", [compare.RunScore(0, np.array([1.0]), np.array([0.2]), None)], 1),
        compare.Row(suite.envs[1], "a", [compare.RunScore(0, np.array([1.0]), np.array([0.5]), None)], 1),
        compare.Row(suite.envs[1], "b", [compare.RunScore(0, np.array([1.0]), np.array([1.0]), None)], 1),
    ]
    # a: mean(0.75, 0.5); b: mean(0.0, 1.0)
    assert compare.overall(rows, suite) == [("a", pytest.approx(0.625), 2), ("b", pytest.approx(0.5), 2)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--envs", "NoSuchEnv-v9"], "unknown environment 'NoSuchEnv-v9'"),
        (["--envs", "MemoryCatch", "--cores", "fw", "transformer"], "unknown core 'transformer'"),
        (["--suite", "no-such-suite"], "unknown suite 'no-such-suite'; known: memory"),
        (["--envs", "MemoryCatch", "--seeds", "0"], "--seeds must be >= 1"),
    ],
)
def test_compare_bad_input(tmp_path, capsys, argv, message):
    from train import compare as cli

    out = tmp_path / "out"
    assert run_cli(cli.main, [*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("envs: [MemoryCatch\n", "is not valid YAML"),
        ("envs: []\n", "'envs' must be a non-empty list"),
        ("envs: [MemoryCatch]\nseed: 3\n", "unknown keys ['seed']"),
        ("envs: [{env: CartPoleNoVel-v1, score: return}]\n", "needs max_return"),
        ("envs: [{env: MemoryCatch, score: catch}]\n", "score must be one of success, return"),
        ("envs: [{env: MemoryCatch, memoryless: 1.0, oracle: 0.5}]\n", "needs oracle > memoryless"),
        ("envs: [MemoryCatch, MemoryCatch-v0]\n", "listed twice"),
    ],
)
def test_bad_suite_files(tmp_path, capsys, content, message):
    from train import compare as cli

    path, out = tmp_path / "suite.yml", tmp_path / "out"
    path.write_text(content)
    assert run_cli(cli.main, ["--suite", str(path), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_project_suite_is_valid():
    suite = compare.load_suite("memory")
    compare.check(suite)
    assert suite.cores == ["fw-lstm", "fw-rnn", "fw-paper", "lstm", "gru"] and suite.seeds == [0, 1, 2]
    assert {"MemoryCatch-v0", "DelayedRecall-L100-v0", "AssociativeRecall-v0"} <= {e.env for e in suite.envs}
    assert not any(e.env.startswith("MiniGrid-") for e in suite.envs)  # MiniGrid has its own suite
    with pytest.raises(UsageError, match="suite file not found"):
        compare.load_suite("missing/suite.yml")


def test_minigrid_suite_is_valid():
    """The MiniGrid suite: the four target envs at the targets' budgets, fw-lstm / lstm / gru and the
    memoryless ff, 3 seeds, every id a stock MiniGrid id and one MiniGrid section for all of them."""
    from fw_agents.config import load_hyperparams

    suite = compare.load_suite("minigrid")
    compare.check(suite)
    assert suite.cores == ["fw-lstm", "lstm", "gru", "ff"] and suite.seeds == [0, 1, 2]
    budgets = {env.env: env.timesteps for env in suite.envs}
    assert budgets == {"MiniGrid-DoorKey-5x5-v0": 100_000, "MiniGrid-RedBlueDoors-6x6-v0": 1_000_000,
                       "MiniGrid-MemoryS7-v0": 1_000_000, "MiniGrid-MemoryS9-v0": 2_000_000}  # fmt: skip
    sections = {env.env: load_hyperparams(env.env, "fw-lstm") for env in suite.envs}
    assert all(not env.hyperparams for env in suite.envs)  # no per-env PPO settings
    assert len({yaml.safe_dump(s) for s in sections.values()}) == 1  # one MiniGrid section for every id
    assert all(s["eval_deterministic"] is True for s in sections.values())
