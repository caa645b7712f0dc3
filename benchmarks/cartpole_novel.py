"""sb3-contrib's own memory check, run for the fast-weight policy beside the stock LSTM policy.

    python benchmarks/cartpole_novel.py [--seeds 1 2 3]

sb3-contrib's slow test ``test_ppo_lstm_performance`` trains ``MlpLstmPolicy`` on CartPole
without velocities (positions only) for 50,000 steps and expects a mean evaluation return
above 450 (the maximum is 500; a memoryless policy gets about 50). This script runs the
same recipe — VecNormalize, 8 envs, n_steps 128, lr 7e-4, batch 256, 10 epochs,
max_grad_norm 1, gae_lambda 0.98, 64 hidden units, critic with its own recurrent core, an
evaluation of 20 episodes every 5,000 steps — for the stock LSTM policy, our LSTM core and
the fast-weight core, and writes the last and best evaluation return into RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import report
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

import envs
from fw_agents import FastWeightMlpPolicy

POLICIES = {
    "stock MlpLstmPolicy": ("MlpLstmPolicy", {}),
    "lstm core": (FastWeightMlpPolicy, {"core": "lstm"}),
    # the published table ran the paper's core when "fw" named it: pinned by its permanent name
    "fw-paper core": (FastWeightMlpPolicy, {"core": "fw-paper"}),
}


def run(policy, extra: dict, seed: int, steps: int) -> tuple[float, float, float]:
    """Train with sb3-contrib's recipe; return (last eval mean return, best, seconds)."""
    env = VecNormalize(make_vec_env(lambda: envs.make_env("CartPoleNoVel-v1"), n_envs=8, seed=seed))
    eval_env = VecNormalize(make_vec_env(lambda: envs.make_env("CartPoleNoVel-v1"), n_envs=4, seed=seed + 1000),
                            training=False, norm_reward=False)  # fmt: skip
    callback = EvalCallback(eval_env, n_eval_episodes=20, eval_freq=5000 // env.num_envs, verbose=0)
    policy_kwargs = {"net_arch": {"vf": [64], "pi": []}, "lstm_hidden_size": 64, "ortho_init": False,
                     "enable_critic_lstm": True, **extra}  # fmt: skip
    model = RecurrentPPO(policy, env, n_steps=128, learning_rate=0.0007, batch_size=256, seed=seed, n_epochs=10,
                         max_grad_norm=1, gae_lambda=0.98, policy_kwargs=policy_kwargs)  # fmt: skip
    start = time.perf_counter()
    model.learn(total_timesteps=steps, callback=callback)
    return callback.last_mean_reward, callback.best_mean_reward, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="sb3-contrib's test uses seed 1")
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fw-fast-lr", type=float, nargs="+", metavar="ETA",
                        help="instead: only the paper's fast-weight core (fw-paper), at these η")  # fmt: skip
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    policies = POLICIES
    if args.fw_fast_lr:
        policies = {
            f"fw-paper core, η = {eta:g}": (FastWeightMlpPolicy, {"core": "fw-paper", "fast_lr": eta})
            for eta in args.fw_fast_lr
        }
    torch.set_num_threads(args.threads)
    steps, seeds = (5_000, args.seeds[:1]) if args.quick else (args.steps, args.seeds)
    rows = ["| policy | last eval return per seed | mean | runs > 450 | best eval (mean) | seconds per run |",
            "|---|---|---|---|---|---|"]  # fmt: skip
    for label, (policy, extra) in policies.items():
        results = [run(policy, extra, seed, steps) for seed in seeds]
        last = [r[0] for r in results]
        rows.append(
            f"| {label} | {', '.join(f'{x:.0f}' for x in last)} | {statistics.mean(last):.0f} | "
            f"{sum(x > 450 for x in last)}/{len(last)} | {statistics.mean(r[1] for r in results):.0f} | "
            f"{statistics.mean(r[2] for r in results):.0f} |"
        )
        print(rows[-1], flush=True)
    options = f" --fw-fast-lr {' '.join(f'{e:g}' for e in args.fw_fast_lr)}" if args.fw_fast_lr else ""
    title = "fast-weight η on " if args.fw_fast_lr else ""
    body = (
        f"## {title}CartPole without velocities (sb3-contrib's recurrent test)\n\n" + "\n".join(rows) + "\n\n"
        f"`python benchmarks/cartpole_novel.py --seeds {' '.join(map(str, seeds))}{options}`: sb3-contrib's recipe, "
        f"{steps:,} steps, pass mark > 450 (max 500), {args.threads} torch thread(s)."
    )
    report(body, "cartpole-novel-fast-lr" if args.fw_fast_lr else "cartpole-novel", args.quick)


if __name__ == "__main__":
    main()
