"""Catch rates of the MemoryCatch reference agents: perfect memory versus none.

python benchmarks/catch_references.py [--episodes 10000] [--seed 0]
"""

from __future__ import annotations

import argparse

import gymnasium as gym

import envs  # noqa: F401  (registers the ids)
from envs.references import MemorylessCatchAgent, OracleCatchAgent, catch_rate


def main() -> None:
    """Print the oracle's and the memoryless agent's catch rates on both registered settings."""
    parser = argparse.ArgumentParser(description="Catch rates of the MemoryCatch reference agents")
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| setting | oracle (perfect memory) | memoryless |")
    print("|---|---|---|")
    for env_id in ("MemoryCatch-v0", "MemoryCatch-24-v0"):
        env = gym.make(env_id).unwrapped
        oracle = catch_rate(OracleCatchAgent(env.size, env.paddle_width), env, args.episodes, args.seed)
        memoryless = catch_rate(MemorylessCatchAgent(), env, args.episodes, args.seed)
        setting = f"{env_id} (N={env.size}, M={env.visible_steps})"
        print(f"| {setting} | {oracle:.3f} | {memoryless:.3f} |")


if __name__ == "__main__":
    main()
