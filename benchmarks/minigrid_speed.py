"""Whole-run PPO throughput on MiniGrid-MemoryS7: training and its periodic evaluation, per core.

    taskset -c 0 python benchmarks/minigrid_speed.py              # the README's table (machine idle)
    python benchmarks/minigrid_speed.py --quick                   # a smoke run

Each core trains from scratch through the library's own training loop (``fw_agents.training.train``,
the settings of hyperparams.yml's MiniGrid section, every callback on: the periodic evaluation
every ``--eval-freq`` env steps, checkpoints, memory diagnostics) on one torch thread, one core
after another. Reported: env-steps/s of the whole run (training steps / wall clock, evaluation
included) and the env steps the evaluations took on top. Target
(issue 10): at least 3,000 env-steps/s on one core for the whole run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import report

from fw_agents.run_folder import RunSpec, prepare_run
from fw_agents.training import train

ENV = "MiniGrid-MemoryS7-v0"


def run(core: str, timesteps: int, eval_freq: int, folder: Path) -> dict:
    run_dir, config = prepare_run(RunSpec(env=ENV, core=core, timesteps=timesteps, log_folder=folder,
                                          eval_freq=eval_freq, save_freq=eval_freq))  # fmt: skip
    start = time.perf_counter()
    train(run_dir, config, progress_bar=False, log=lambda _: None)
    wall = time.perf_counter() - start
    evaluations = np.load(run_dir / "eval" / "evaluations.npz")
    eval_steps = int(evaluations["ep_lengths"].sum())
    return {"core": core, "wall": wall, "steps": timesteps, "eval_steps": eval_steps,
            "success": float(evaluations["successes"][-1].mean())}  # fmt: skip


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
        "| core | whole run, env-steps/s | training steps | evaluation env steps on top | wall s | last eval success |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['core']} | {r['steps'] / r['wall']:,.0f} | {r['steps']:,} | {r['eval_steps']:,} | "
                     f"{r['wall']:.0f} | {r['success']:.2f} |")  # fmt: skip
    report("\n".join(lines), "minigrid-speed", args.quick)


if __name__ == "__main__":
    main()
