"""How far back does each memory reach? Success rate on DelayedRecall against the delay L.

    python benchmarks/delayed_recall.py [--delays 1 3 10 30 100] [--seeds 2] [--timesteps 100000]
    python benchmarks/delayed_recall.py --quick

Every core under identical PPO settings (``fw_agents/hyperparams.yml``'s DelayedRecall entry,
hidden 64) trains for a fixed budget at each delay; the final evaluation's success rate
(held-out seeds) is the score. Writes a PNG (success against delay, one line per core)
and a table in RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from _common import ROOT, pyplot, report

from fw_agents.plotting import load_curve
from fw_agents.sweep import expand, run_local

# the published table ran the paper's fast-weight core when "fw" named it: pinned by its permanent name
CORES = ["fw-paper", "lstm", "irnn", "gru"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delays", type=int, nargs="+", default=[1, 3, 10, 30, 100])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    folder = ROOT / "runs" / ("delayed_recall_quick" if args.quick else "delayed_recall")
    seeds = list(range(1 if args.quick else args.seeds))
    extra = ["--eval-freq", str(args.timesteps // 4)]
    if args.quick:
        args.delays, args.timesteps = args.delays[:2], 2048
        extra = ["--eval-freq", "1024", "--n-envs", "4", "--hyperparams", "n_steps:64", "batch_size:128",
                 "eval_episodes:10"]  # fmt: skip
    config = {"envs": [f"DelayedRecall-L{d}" for d in args.delays], "cores": CORES, "seeds": seeds,
              "timesteps": args.timesteps, "log_folder": str(folder), "threads": 1, "extra_args": extra,
              "variants": {"main": {}}}  # fmt: skip
    start = time.time()
    run_local(expand(config), args.jobs)
    scores = {
        (core, delay): [
            float(load_curve(folder / f"DelayedRecall-L{delay}_{core}_main_seed{s}").values[-1]) for s in seeds
        ]
        for core in CORES
        for delay in args.delays
    }
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for core in CORES:
        ax.plot(args.delays, [statistics.mean(scores[(core, d)]) for d in args.delays], marker="o", label=core)
    ax.axhline(0.5, color="0.4", linestyle="--", linewidth=1, label="chance")
    ax.set_xscale("log")
    ax.set_xlabel("delay L (steps between cue and query)")
    ax.set_ylabel("success rate")
    ax.set_ylim(0, 1.05)
    ax.legend()
    fig.tight_layout()
    png = folder / "delayed_recall.png" if args.quick else ROOT / "benchmarks" / "results" / "delayed_recall.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    header = " | ".join(f"L={d}" for d in args.delays)
    rows = [f"| core | {header} |", "|---|" + "---|" * len(args.delays)]
    for core in CORES:
        cells = " | ".join(f"{statistics.mean(scores[(core, d)]):.2f}" for d in args.delays)
        rows.append(f"| {core} | {cells} |")
    link = png if args.quick else png.relative_to(ROOT)
    body = (
        "## Delayed recall: how far back each memory reaches\n\nFinal success rate (mean over seeds "
        f"{seeds}; chance 0.5).\n\n" + "\n".join(rows) + f"\n\n![delayed recall]({link})\n\n"
        f"`python benchmarks/delayed_recall.py --delays {' '.join(map(str, args.delays))} --seeds {len(seeds)} "
        f"--timesteps {args.timesteps}`; {os.cpu_count()} CPU cores; wall clock {(time.time() - start) / 60:.0f} min."
    )
    report(body, "delayed-recall", args.quick)


if __name__ == "__main__":
    main()
