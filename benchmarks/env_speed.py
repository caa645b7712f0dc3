"""Raw environment speed: steps per second, single env and in a vectorised env of 16.

    python benchmarks/env_speed.py [--steps 200000] [--quick]

"raw" steps the env class directly; "gym.make" adds Gymnasium's default wrappers
(order enforcing, passive checker); "DummyVecEnv×16" is SB3's vectorised env, counting
env-steps (16 per call). Actions are drawn up front so the policy costs nothing.
Target: MemoryCatch raw single-env ≥ 50,000 steps/s on one core.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv

import envs

ENV_IDS = [
    "MemoryCatch-v0",
    "MemoryCatch-24-v0",
    "AssociativeRecall-v0",
    "DelayedRecall-v0",
    "MiniGrid-MemoryS7-v0",
]


def single(env: gym.Env, steps: int) -> float:
    actions = np.random.default_rng(0).integers(env.action_space.n, size=steps)
    env.reset(seed=0)
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def vectorised(env_id: str, steps: int, n_envs: int = 16) -> float:
    vec = DummyVecEnv([lambda: envs.make_env(env_id) for _ in range(n_envs)])
    vec.seed(0)
    vec.reset()
    calls = max(1, steps // n_envs)
    actions = np.random.default_rng(0).integers(vec.action_space.n, size=(calls, n_envs))
    start = time.perf_counter()
    for a in actions:
        vec.step(a)
    return calls * n_envs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    steps = 5_000 if args.quick else args.steps
    print("| env | raw steps/s | gym.make steps/s | DummyVecEnv×16 env-steps/s |")
    print("|---|---|---|---|")
    for env_id in ENV_IDS:
        made = envs.make_env(env_id)
        raw = single(made.unwrapped, steps)
        wrapped = single(made, steps)
        vec = vectorised(env_id, steps)
        print(f"| {env_id} | {raw:,.0f} | {wrapped:,.0f} | {vec:,.0f} |")


if __name__ == "__main__":
    main()
