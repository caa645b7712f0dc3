"""The oracle reference of the MiniGrid suite, measured: a full-information planner's success.

python benchmarks/minigrid_references.py [--episodes 1000] [--seed 0]

The memoryless reference is measured by the suite itself: its `ff` core (PPO with a core that
sees only the current view, the suite's settings) — the `ff` rows of the leaderboard.
"""

from __future__ import annotations

import argparse

from envs import make_env
from envs.minigrid_oracle import oracle_success
from fw_agents.compare import load_suite


def main() -> None:
    """Print the oracle's success on every env of the minigrid suite."""
    parser = argparse.ArgumentParser(description="Oracle success on the MiniGrid suite's envs")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"| env | oracle success ({args.episodes} episodes, seed {args.seed}) |")
    print("|---|---|")
    for env in load_suite("minigrid").envs:
        print(f"| {env.env} | {oracle_success(make_env(env.env), args.episodes, args.seed):.3f} |")


if __name__ == "__main__":
    main()
