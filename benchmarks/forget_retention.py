"""How long an untrained LSTM core keeps a difference in what it saw first, per forget-gate bias.

    python benchmarks/forget_retention.py [--env MiniGrid-MemoryS7-v0] [--cores fw-lstm lstm]
                                          [--biases none 1 2] [--pairs 40] [--steps 8]

Builds the untrained policy of ``--env`` (hyperparams.yml's settings for it, ``--seed``) once per
core and forget bias (``core_kwargs.forget_bias``; ``none`` = torch's init), and plays pairs of
episodes that differ only in their first observation — the reset views of two layouts — followed
by the same observations (one layout's, from random turns and steps forward). For each step t it
prints ‖y_t − y'_t‖ / ‖y_0 − y'_0‖ of the actor core's outputs, averaged over the pairs: how much
of the first view's difference the core still carries t steps later, before any training. On
MiniGrid-Memory the cue is seen at the start and used at the split some steps later: a core that
forgets it by then gives the policy nothing to learn from. Printed only.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from envs.make import make_env
from fw_agents.config import deep_merge, load_hyperparams
from fw_agents.training import build_model


def episodes(env_id: str, pairs: int, steps: int, seed: int) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Reset views of ``pairs`` layouts, and after each the views of ``steps`` random moves."""
    env = make_env(env_id)
    rng = np.random.default_rng(seed)
    firsts, rests = [], []
    for pair in range(pairs):
        obs, _ = env.reset(seed=seed + pair)
        firsts.append(obs)
        rest = []
        for _ in range(steps):
            obs, _, terminated, truncated, _ = env.step(int(rng.integers(0, 3)))  # left, right, forward
            if terminated or truncated:
                obs, _ = env.reset(seed=seed + pairs + len(rest))
            rest.append(obs)
        rests.append(rest)
    env.close()
    return firsts, rests


def untrained_policy(env_id: str, core: str, forget_bias: float | None, seed: int):
    """The policy ``python -m train.ppo`` would start from, with the core's forget bias set."""
    config = load_hyperparams(env_id, core)
    config = deep_merge(config, {"policy_kwargs": {"core_kwargs": {"forget_bias": forget_bias}},
                                 "core": core, "seed": seed, "device": "cpu"})  # fmt: skip
    return build_model(config, DummyVecEnv([lambda: make_env(env_id)])).policy


def retention(policy, firsts: list[np.ndarray], rests: list[list[np.ndarray]]) -> np.ndarray:
    """Mean over pairs (layout i's first view against layout i+1's, then layout i's moves)."""
    ratios = []
    with torch.no_grad():
        for i, rest in enumerate(rests):
            outputs = []
            for first in (firsts[i], firsts[(i + 1) % len(firsts)]):
                obs = torch.as_tensor(np.stack([first, *rest]))
                features = policy.extract_features(obs, policy.pi_features_extractor)
                y, _ = policy.lstm_actor.core(features[:, None])
                outputs.append(y[:, 0])
            gap = (outputs[0] - outputs[1]).norm(dim=-1)
            if gap[0] > 1e-4:  # two layouts can look alike at reset
                ratios.append((gap / gap[0]).numpy())
    return np.mean(ratios, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="MiniGrid-MemoryS7-v0")
    parser.add_argument("--cores", nargs="+", default=["fw-lstm", "lstm"])
    parser.add_argument("--biases", nargs="+", default=["none", "1", "2"])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    firsts, rests = episodes(args.env, args.pairs, args.steps, 10_000 + args.seed)
    print(f"{args.env}: ‖y_t − y'_t‖ / ‖y_0 − y'_0‖ of the untrained actor core, mean over {args.pairs} pairs")
    print()
    print("| core | forget bias | " + " | ".join(f"t={t}" for t in range(1, args.steps + 1)) + " |")
    print("|---|---|" + "---|" * args.steps)
    for core in args.cores:
        for bias in args.biases:
            value = None if bias == "none" else float(bias)
            curve = retention(untrained_policy(args.env, core, value, args.seed), firsts, rests)
            label = "torch's init" if value is None else f"{value:g}"
            print(f"| {core} | {label} | " + " | ".join(f"{v:.2f}" for v in curve[1:]) + " |")


if __name__ == "__main__":
    main()
