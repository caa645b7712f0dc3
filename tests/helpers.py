"""Helpers shared by the tests that run the training CLI."""

from __future__ import annotations

from pathlib import Path

from train import ppo
from train._cli import run_cli

TINY = ["--n-envs", "2", "--hyperparams", "n_steps:32", "batch_size:32", "n_epochs:1", "eval_episodes:2",
        "policy_kwargs.lstm_hidden_size:8", "--no-progress-bar"]  # fmt: skip
REPO = Path(__file__).resolve().parent.parent


def train_run(tmp_path: Path, *extra: str, name: str = "run", timesteps: int = 256) -> int:
    """A tiny MemoryCatch run through ``python -m train.ppo``'s main; returns the exit code."""
    argv = ["--env", "MemoryCatch", "--timesteps", str(timesteps), "--log-folder", str(tmp_path),
            "--run-name", name, "--eval-freq", "128", "--save-freq", "128", *TINY, *extra]  # fmt: skip
    return run_cli(ppo.main, argv)


def stats_at_rollout_end(model, stats_fn, steps: int = 32) -> dict:
    """Train ``model`` for ``steps`` steps; ``stats_fn(model)`` as computed at the end of each rollout
    (after collection, before the update), merged."""
    from stable_baselines3.common.callbacks import BaseCallback

    captured: dict = {}

    class Grab(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            captured.update(stats_fn(self.model))

    model.learn(steps, callback=Grab())
    return captured
