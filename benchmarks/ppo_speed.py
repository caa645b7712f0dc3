"""RecurrentPPO throughput on MemoryCatch for every core, and the rollout buffer's bytes per step.

    python benchmarks/ppo_speed.py              # the README's table
    python benchmarks/ppo_speed.py --quick      # a smoke run

All policies run in one process under identical settings (MemoryCatch-v0's hyperparams.yml
entry: n_envs, n_steps, batch size, epochs; hidden size 64), interleaved round by round, and
the median env-steps per second (rollouts + updates, wall clock) is reported. "stock
MlpLstmPolicy" is sb3-contrib's own LSTM policy, as a reference for our harness.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env

import envs
from fw_agents import FastWeightMlpPolicy
from fw_agents.config import build_policy_kwargs, load_hyperparams, ppo_kwargs

VARIANTS = [
    ("stock MlpLstmPolicy", "MlpLstmPolicy", {}),
    ("lstm core", FastWeightMlpPolicy, {"core": "lstm"}),
    ("gru core", FastWeightMlpPolicy, {"core": "gru"}),
    ("irnn core", FastWeightMlpPolicy, {"core": "irnn"}),
    ("fw-lstm (LSTM + delta memory)", FastWeightMlpPolicy, {"core": "fw-lstm"}),
    ("fw-rnn attention", FastWeightMlpPolicy, {"core": "fw-rnn", "form": "attention"}),
    ("fw-rnn matrix", FastWeightMlpPolicy, {"core": "fw-rnn", "form": "matrix"}),
]


def build(policy, extra: dict, config: dict) -> RecurrentPPO:
    env = make_vec_env(lambda: envs.make_env("MemoryCatch-v0"), n_envs=config["n_envs"], seed=0)
    core = extra.get("core", "lstm")
    policy_kwargs = build_policy_kwargs(config["policy_kwargs"], core)
    if policy == "MlpLstmPolicy":
        policy_kwargs.pop("core")
    else:
        policy_kwargs.update(extra)
    return RecurrentPPO(policy, env, policy_kwargs=policy_kwargs, seed=0, **ppo_kwargs(config))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=4, help="PPO updates (rollout + training) per round")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: as when seeds run in parallel)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_hyperparams("MemoryCatch-v0", "fw-lstm")
    rounds, updates = (1, 1) if args.quick else (args.rounds, args.updates)
    steps = updates * config["n_steps"] * config["n_envs"]
    models = {label: build(policy, extra, config) for label, policy, extra in VARIANTS}
    for model in models.values():  # warm-up: compiles kernels, fills caches
        model.learn(config["n_steps"] * config["n_envs"])
    samples: dict[str, list[float]] = {label: [] for label in models}
    for _ in range(rounds):
        for label, model in models.items():
            start = time.perf_counter()
            model.learn(steps, reset_num_timesteps=False)
            samples[label].append(steps / (time.perf_counter() - start))
    print(
        f"MemoryCatch-v0, n_envs={config['n_envs']}, n_steps={config['n_steps']}, batch={config['batch_size']}, "
        f"epochs={config['n_epochs']}, hidden={config['policy_kwargs']['lstm_hidden_size']}, "
        f"torch threads={args.threads}, {rounds} rounds × {steps} steps (median)"
    )
    print("| policy | env-steps/s | × stock LSTM | buffer bytes / env-step |")
    print("|---|---|---|---|")
    base = statistics.median(samples["stock MlpLstmPolicy"])
    for label, model in models.items():
        speed = statistics.median(samples[label])
        buffer = model.rollout_buffer
        arrays = ("hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf")
        per_step = sum(getattr(buffer, name).nbytes for name in arrays) // (config["n_steps"] * config["n_envs"])
        print(f"| {label} | {speed:,.0f} | {speed / base:.2f} | {per_step:,} |")


if __name__ == "__main__":
    main()
