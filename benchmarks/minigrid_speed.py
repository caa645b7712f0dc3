"""Whole-run PPO throughput on MiniGrid-MemoryS7: training and its periodic evaluation, per core.

    taskset -c 0 python benchmarks/minigrid_speed.py              # the README's table (machine idle)
    python benchmarks/minigrid_speed.py --quick                   # a smoke run

Each core trains from scratch through the library's own training loop (``fw_agents.training.train``,
the settings of hyperparams.yml's MiniGrid section, every callback on: the periodic evaluation
every ``--eval-freq`` env steps, checkpoints, memory diagnostics) on one torch thread, one core
after another. Reported: env-steps/s of the whole run (training steps / wall clock, evaluation
included), the env steps the evaluations took on top, and where the wall clock went — the
training envs' steps (MiniGrid and its view), the policy's inference while collecting rollouts
(and the rest of the rollout loop), PPO's update, and the periodic evaluation. Target: at least
3,000 env-steps/s on one core for the whole run.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from _common import report
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.vec_env import DummyVecEnv

from fw_agents.callbacks import RunEvaluation
from fw_agents.run_folder import RunSpec, prepare_run
from fw_agents.training import train

ENV = "MiniGrid-MemoryS7-v0"


@contextlib.contextmanager
def phase_timers() -> Iterator[dict[str, float]]:
    """Seconds spent in the training envs' steps, PPO's update and the periodic evaluation, measured by
    timing three methods for the duration of the block (the evaluation's own env steps count as evaluation)."""
    spent = {"env": 0.0, "update": 0.0, "evaluation": 0.0}
    state = {"evaluating": False}
    originals = (DummyVecEnv.step_wait, RecurrentPPO.train, RunEvaluation._on_step)

    def step_wait(self):
        start = time.perf_counter()
        try:
            return originals[0](self)
        finally:
            if not state["evaluating"]:
                spent["env"] += time.perf_counter() - start

    def update(self):
        start = time.perf_counter()
        try:
            return originals[1](self)
        finally:
            spent["update"] += time.perf_counter() - start

    def evaluation(self):
        start, state["evaluating"] = time.perf_counter(), True
        try:
            return originals[2](self)
        finally:
            state["evaluating"] = False
            spent["evaluation"] += time.perf_counter() - start

    DummyVecEnv.step_wait, RecurrentPPO.train, RunEvaluation._on_step = step_wait, update, evaluation
    try:
        yield spent
    finally:
        DummyVecEnv.step_wait, RecurrentPPO.train, RunEvaluation._on_step = originals


def run(core: str, timesteps: int, eval_freq: int, folder: Path) -> dict:
    run_dir, config = prepare_run(RunSpec(env=ENV, core=core, timesteps=timesteps, log_folder=folder,
                                          eval_freq=eval_freq, save_freq=eval_freq))  # fmt: skip
    with phase_timers() as spent:
        start = time.perf_counter()
        train(run_dir, config, progress_bar=False, log=lambda _: None)
        wall = time.perf_counter() - start
    evaluations = np.load(run_dir / "eval" / "evaluations.npz")
    eval_steps = int(evaluations["ep_lengths"].sum())
    inference = wall - sum(spent.values())  # the rest of the rollout loop: the policy's forward, buffers, callbacks
    shares = {name: seconds / wall for name, seconds in {**spent, "inference": inference}.items()}
    return {"core": core, "wall": wall, "steps": timesteps, "eval_steps": eval_steps,
            "success": float(evaluations["successes"][-1].mean()), "shares": shares}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", nargs="+", default=["fw-lstm", "lstm", "gru"])
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--eval-freq", type=int, default=25_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.quick:
        args.timesteps, args.eval_freq = 4096, 2048
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for core in args.cores:
            result = run(core, args.timesteps, args.eval_freq, Path(folder))
            rows.append(result)
            print(f"{core}: {result['steps'] / result['wall']:,.0f} env-steps/s", flush=True)
    lines = [
        "## MiniGrid PPO throughput, evaluation included",
        "",
        f"`taskset -c 0 python benchmarks/minigrid_speed.py --timesteps {args.timesteps} --eval-freq {args.eval_freq}` "
        "on an idle machine. Target: 3,000 env-steps/s on one core for the whole run.",
        "",
        f"{ENV}, {args.timesteps:,} training steps per core, evaluation every {args.eval_freq:,} steps "
        "(hyperparams.yml's MiniGrid section), one torch thread, cores one after another",
        "",
        "| core | whole run, env-steps/s | training steps | evaluation env steps on top | wall s | last eval success "
        "| env | rollout inference | update | evaluation |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        split = " | ".join(f"{100 * r['shares'][name]:.0f} %" for name in ("env", "inference", "update", "evaluation"))
        lines.append(f"| {r['core']} | {r['steps'] / r['wall']:,.0f} | {r['steps']:,} | {r['eval_steps']:,} | "
                     f"{r['wall']:.0f} | {r['success']:.2f} | {split} |")  # fmt: skip
    report("\n".join(lines), "minigrid-speed", args.quick)


if __name__ == "__main__":
    main()
