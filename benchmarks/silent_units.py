"""How many of a run's extractor units still answer to what the agent sees, checkpoint by checkpoint.

    python benchmarks/silent_units.py RUN [--episodes 10] [--steps 60] [--seed 100]

Collects a fixed set of views from held-out episodes of the run's env (random actions, ``--episodes``
episodes of at most ``--steps`` steps, seeds from ``--seed``) and passes them through the actor's
features extractor of the untrained model (the run's configuration and seed), of every checkpoint in
``RUN/checkpoints`` and of the final model. Per model: the
share of the extractor's units that are exactly 0 on every one of those views (a ReLU unit silent on
all of them passes no gradient back: it is dead for these views), the mean absolute feature, and
the features' spread (their standard deviation over the views, averaged over the units: how much
the features tell one view from another). A policy whose extractor has gone silent is blind, and
its most likely action stops depending on what it sees. Printed only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sb3_contrib import RecurrentPPO

from fw_agents.errors import UsageError
from fw_agents.run_folder import checkpoint_steps, load_model, play_env, read_config
from fw_agents.training import build_model
from fw_agents.vec_env import make_vec


def views(run: Path, episodes: int, steps: int, seed: int) -> torch.Tensor:
    """Observations of held-out episodes of the run's env, played with random actions."""
    env = play_env(read_config(run), run / "model.zip")
    env.action_space.seed(seed)
    seen = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        for _ in range(steps):
            seen.append(np.asarray(obs))
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                break
    env.close()
    return torch.as_tensor(np.stack(seen)).float()


def untrained(run: Path) -> RecurrentPPO:
    """The model the run started from (its configuration and seed, before any update)."""
    config = read_config(run)
    return build_model(config, make_vec(config, 1, config["seed"], None, "dummy"))


def health(model: RecurrentPPO, observations: torch.Tensor) -> tuple[float, float, float]:
    """(share of units 0 on every view, mean |feature|, mean over units of the std over views)."""
    policy = model.policy
    with torch.no_grad():
        features = policy.extract_features(observations, policy.pi_features_extractor)
    features = features[0] if isinstance(features, tuple) else features
    silent = (features == 0).all(dim=0).float().mean().item()
    return silent, features.abs().mean().item(), features.std(dim=0).mean().item()


def models(run: Path) -> list[tuple[str, Path]]:
    """The run's checkpoints in step order, then its final model (if saved)."""
    found = [(f"{checkpoint_steps(p) // 1000}k", p) for p in (run / "checkpoints").glob("ckpt_*.zip")]
    found.sort(key=lambda item: checkpoint_steps(item[1]))
    if (run / "model.zip").exists():
        found.append(("final", run / "model.zip"))
    if not found:
        raise UsageError(f"{run} has no checkpoints and no model.zip")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="run folder")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=60, help="at most this many views per episode")
    parser.add_argument("--seed", type=int, default=100, help="first held-out seed")
    args = parser.parse_args()
    if args.episodes < 1 or args.steps < 1:
        parser.error("--episodes and --steps must be positive")
    try:
        found = models(args.run)
        observations = views(args.run, args.episodes, args.steps, args.seed)
    except (UsageError, FileNotFoundError) as err:
        parser.exit(2, f"error: {err}\n")
    print(f"{args.run}: {len(observations)} views\n")
    print("| model | silent units | mean abs feature | spread over views |")
    print("|---|---|---|---|")
    silent, magnitude, spread = health(untrained(args.run), observations)
    print(f"| untrained | {silent:.2f} | {magnitude:.3f} | {spread:.3f} |")
    for name, path in found:
        silent, magnitude, spread = health(load_model(path, device="cpu"), observations)
        print(f"| {name} | {silent:.2f} | {magnitude:.3f} | {spread:.3f} |")


if __name__ == "__main__":
    main()
