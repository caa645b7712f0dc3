"""RecurrentPPO throughput for every core on MemoryCatch-v0's and MiniGrid-MemoryS7's settings,
split into rollout and update, and the rollout buffer's bytes per step.

    python benchmarks/ppo_speed.py              # RESULTS.md's table (machine idle)
    python benchmarks/ppo_speed.py --quick      # a smoke run, printed only

Per env, every policy is built with that env's hyperparams.yml settings (n_envs, n_steps, batch
size, epochs, hidden size, features extractor) and all run in one process on one torch thread,
interleaved round by round; the median over rounds is reported. A PPO iteration is one rollout
(n_envs × n_steps env steps: env, policy inference at T = 1 for the actor and the critic, buffer)
and one update (epochs × minibatches of padded sequences, forward and backward). "stock
MlpLstmPolicy" is sb3-contrib's own LSTM policy with the same extractor, the reference the default
policy is a drop-in for. Every model gets the buffer the library trains with
(``fw_agents.buffers.install_buffer``: sb3-contrib's minibatches padded by one gather per array, and
for the library's cores two short sequences to a row), as ``train.ppo`` gives it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import report
from sb3_contrib import RecurrentPPO

from fw_agents import FastWeightMlpPolicy
from fw_agents.buffers import install_buffer
from fw_agents.config import build_policy_kwargs, load_hyperparams, ppo_kwargs
from fw_agents.vec_env import make_vec, normalized

ENVS = ["MemoryCatch-v0", "MiniGrid-MemoryS7-v0"]
VARIANTS = [
    ("stock MlpLstmPolicy", "MlpLstmPolicy", {}),
    ("lstm core", FastWeightMlpPolicy, {"core": "lstm"}),
    ("gru core", FastWeightMlpPolicy, {"core": "gru"}),
    ("fw-lstm core (the default policy)", FastWeightMlpPolicy, {"core": "fw-lstm"}),
    ("fw-rnn attention", FastWeightMlpPolicy, {"core": "fw-rnn", "form": "attention"}),
]


def build(env_id: str, policy, extra: dict, config: dict) -> RecurrentPPO:
    env = normalized(make_vec({"env_id": env_id, **config}, config["n_envs"], 0, None, "dummy"), config)
    policy_kwargs = build_policy_kwargs(config["policy_kwargs"], extra.get("core", "lstm"))
    if policy == "MlpLstmPolicy":
        policy_kwargs.pop("core")
    else:
        policy_kwargs.update(extra)
    model = RecurrentPPO(policy, env, policy_kwargs=policy_kwargs, seed=0, **ppo_kwargs(config))
    install_buffer(model)
    return model


def iteration(model: RecurrentPPO) -> tuple[float, float]:
    """One rollout and one update through RecurrentPPO's own loop; their seconds."""
    times = []
    original = model.train

    def timed_train() -> None:
        times.append(time.perf_counter())
        original()

    model.train = timed_train
    try:
        start = time.perf_counter()
        model.learn(model.n_steps * model.n_envs, reset_num_timesteps=False)
        end = time.perf_counter()
    finally:
        del model.train
    return times[0] - start, end - times[0]


def measure(env_id: str, rounds: int, updates: int, threads: int) -> str:
    config = load_hyperparams(env_id, "fw-lstm")
    models = {label: build(env_id, policy, extra, config) for label, policy, extra in VARIANTS}
    for model in models.values():  # warm-up: compiles kernels, fills caches
        iteration(model)
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in models}
    for _ in range(rounds):
        for label, model in models.items():
            parts = [iteration(model) for _ in range(updates)]
            samples[label].append((sum(p[0] for p in parts) / updates, sum(p[1] for p in parts) / updates))
    steps = config["n_steps"] * config["n_envs"]
    lines = [
        f"**{env_id}**: n_envs={config['n_envs']}, n_steps={config['n_steps']}, batch={config['batch_size']}, "
        f"epochs={config['n_epochs']}, hidden={config['policy_kwargs']['lstm_hidden_size']}, "
        f"torch threads={threads}, {rounds} rounds × {updates} iterations (median)",
        "",
        "| policy | env-steps/s | × stock LSTM | × lstm core | rollout s | update s | buffer bytes / env-step |",
        "|---|---|---|---|---|---|---|",
    ]
    speed = {}
    for label, values in samples.items():
        rollout = statistics.median(v[0] for v in values)
        update = statistics.median(v[1] for v in values)
        speed[label] = (steps / statistics.median(v[0] + v[1] for v in values), rollout, update)
    for label, model in models.items():
        rate, rollout, update = speed[label]
        buffer = model.rollout_buffer
        arrays = ("hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf")
        per_step = sum(getattr(buffer, name).nbytes for name in arrays) // steps
        lines.append(
            f"| {label} | {rate:,.0f} | {rate / speed['stock MlpLstmPolicy'][0]:.2f} "
            f"| {rate / speed['lstm core'][0]:.2f} | {rollout:.3f} | {update:.3f} | {per_step:,} |"
        )
        model.env.close()
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=3, help="PPO iterations (rollout + update) per round")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: as when seeds run in parallel)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rounds, updates = (1, 1) if args.quick else (args.rounds, args.updates)
    tables = [measure(env_id, rounds, updates, args.threads) for env_id in ENVS]
    body = (
        "## RecurrentPPO throughput: rollout and update\n\n"
        "`python benchmarks/ppo_speed.py` (every policy in one process, interleaved; idle machine):\n\n"
        + "\n\n".join(tables)
    )
    report(body, "ppo-speed", args.quick)


if __name__ == "__main__":
    main()
