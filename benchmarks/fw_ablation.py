"""Which fast-weight remedy helps? Each core option on/off, on three memory tasks, over seeds.

    python benchmarks/fw_ablation.py                                   # every variant, every task
    python benchmarks/fw_ablation.py --tasks recall cartpole --variants paper gate_unit
    python benchmarks/fw_ablation.py --tasks catch24 assoc --variants gate_unit_norm lstm paper
    python benchmarks/fw_ablation.py --table-only                      # rebuild the table from the runs

Variants are the paper's core (``PAPER_SETTINGS``: λ 0.95, η 0.5 fixed, no gate) with one or
more options of ``FastWeightRNN`` switched on; ``lstm`` is the LSTM core under the same PPO
settings, for reference. Tasks:

* ``catch``: MemoryCatch-v0, hyperparams.yml's MemoryCatch settings, 600k env steps, seeds
  0 1 2; env steps to 50 / 80 / 95 % catch per seed (first evaluation at or above), final catch.
* ``recall``: DelayedRecall-L100-v0 with the DelayedRecall settings (rollouts of 64 steps: the
  cue is 100 steps back, so no gradient links the answer to it; only a memory written without
  gradient can carry it), 200k steps, seeds 0 1 2; final success per seed and the share of
  the 8 evaluations at 1.00 (is the solution kept?).
* ``cartpole``: sb3-contrib's CartPole-without-velocities recipe (benchmarks/cartpole_novel.py),
  50k steps, seeds 1 2 3; last evaluation return per seed (pass mark 450).

Training runs are ordinary run folders under ``runs/fw_ablation/`` made by the sweep runner
(finished runs are skipped, so the script resumes); CartPole results are cached as JSON beside
them. Two runs at a time, one torch thread each. Writes the table into RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from _common import ROOT, THRESHOLDS, threshold_cells, write_section
from cartpole_novel import run as cartpole_run

from fw_agents import FastWeightMlpPolicy
from fw_agents.cores.fast_weights import PAPER_SETTINGS
from fw_agents.plotting import load_curve
from fw_agents.sweep import expand, run_local

FOLDER = ROOT / "runs" / "fw_ablation"
# name -> (core, core options on top of the paper's settings, what it tests)
VARIANTS: dict[str, tuple[str, dict, str]] = {
    "paper": ("fw-rnn", {}, "the paper's core"),
    "gate_unit": ("fw-rnn", {"read_gate": "unit"}, "+ a gate per unit on the read-out, from 0"),
    "gate_layer": ("fw-rnn", {"read_gate": "layer"}, "+ one gate per layer on the read-out, from 0"),
    "gate_unit_open": ("fw-rnn", {"read_gate": "unit", "gate_init": 1.0},
                       "+ a gate per unit, from 1 (the paper at init)"),
    "gate_unit_002": ("fw-rnn", {"read_gate": "unit", "gate_init": 0.02}, "+ a gate per unit, from 0.02"),
    "gate_unit_w1": ("fw-rnn", {"read_gate": "unit", "recurrent_init_scale": 1.0},
                     "+ a gate per unit, from 0; W(0) = I instead of 0.05·I"),
    "gate_unit_norm_w1": ("fw-rnn", {"read_gate": "unit", "read_norm": True, "recurrent_init_scale": 1.0},
                          "+ gate per unit, normalised read-out, W(0) = I"),
    "gate_unit_norm_spread": ("fw-rnn", {"read_gate": "unit", "read_norm": True, "gate_init": "spread"},
                              "the previous default (`fw-rnn`): + gate per unit from 0 … 1 across the units, "
                              "normalised read-out"),
    "gate_unit_norm_spread_s2": ("fw-rnn", {"read_gate": "unit", "read_norm": True, "gate_init": "spread",
                                        "inner_steps": 2}, "the previous default with S = 2 inner steps"),
    "gate_unit_relative_spread": ("fw-rnn", {"read_gate": "unit", "read_norm": True, "norm_input": True,
                                         "gate_init": "spread"},
                                  "+ gate per unit from 0 … 1, read-out and input term both normalised "
                                  "(MemoryCatch stopped at 275k, slower than the row above)"),
    "gate_unit_spread": ("fw-rnn", {"read_gate": "unit", "gate_init": "spread"},
                         "+ gate per unit from 0 … 1 across the units"),
    "gate_unit_learned": ("fw-rnn", {"read_gate": "unit", "learn_decay": True, "learn_fast_lr": True},
                          "+ gate per unit, λ and η learned"),
    "gate_layer_learned": ("fw-rnn", {"read_gate": "layer", "learn_decay": True, "learn_fast_lr": True},
                           "+ gate per layer, λ and η learned"),
    "learned": ("fw-rnn", {"learn_decay": True, "learn_fast_lr": True, "fast_lr": 0.05},
                "λ and η learned (η from 0.05), no gate"),
    "gate_unit_norm": ("fw-rnn", {"read_gate": "unit", "read_norm": True}, "+ gate per unit, normalised read-out"),
    "gate_unit_norm_l99": ("fw-rnn", {"read_gate": "unit", "read_norm": True, "decay": 0.99},
                           "+ gate per unit, normalised read-out, λ 0.99"),
    "gate_unit_l99": ("fw-rnn", {"read_gate": "unit", "decay": 0.99}, "+ gate per unit, λ 0.99"),
    "lstm_delta": ("fw-lstm", {}, "**shipped default** (`fw-lstm`): an LSTM with a delta-rule fast-weight memory "
                   "beside it, read-out gate from 0"),
    "lstm_delta_open": ("fw-lstm", {"gate_init": 1.0}, "the shipped default with the read-out gate from 1"),
    "lstm_add": ("fw-lstm", {"rule": "add"}, "the shipped default with Hebbian accumulation instead of the delta rule"),
    "lstm": ("lstm", {}, "LSTM core (reference)"),
}  # fmt: skip
TASKS = {
    "catch": ("MemoryCatch", 600_000, [0, 1, 2]),
    "recall": ("DelayedRecall-L100", 200_000, [0, 1, 2]),
    "cartpole": ("CartPoleNoVel-v1", 50_000, [1, 2, 3]),
    # further memory tasks, for the chosen variants against the LSTM (second table)
    "catch24": ("MemoryCatch-24", 1_000_000, [0, 1, 2]),
    "assoc": ("AssociativeRecall", 500_000, [0, 1, 2]),
}
FURTHER = ("catch24", "assoc")


def core_kwargs(variant: str) -> dict:
    """Ba et al.'s RNN variants start from the paper's settings; the default core's from its own."""
    core, options, _ = VARIANTS[variant]
    return {"fw-rnn": {**PAPER_SETTINGS, **options}, "fw-lstm": dict(options)}.get(core, {})


def sweep_config(task: str, variant: str) -> dict:
    env, steps, seeds = TASKS[task]
    core, _, _ = VARIANTS[variant]
    overrides = {"policy_kwargs": {"core_kwargs": core_kwargs(variant)}} if core in ("fw-lstm", "fw-rnn") else {}
    return {"envs": [env], "cores": [core], "seeds": seeds, "timesteps": steps, "log_folder": str(FOLDER),
            "variants": {variant: overrides}, "threads": 1}  # fmt: skip


def run_dirs(task: str, variant: str) -> list[Path]:
    return [job.run_dir for job in expand(sweep_config(task, variant))]


def cartpole_file(variant: str, seed: int) -> Path:
    return FOLDER / "cartpole" / f"{variant}_seed{seed}.json"


def run_cartpole(variant: str, seed: int) -> None:
    path = cartpole_file(variant, seed)
    if path.exists():
        return
    core, _, _ = VARIANTS[variant]
    extra = {"core": core, **({"core_kwargs": core_kwargs(variant)} if core in ("fw-lstm", "fw-rnn") else {})}
    last, best, seconds = cartpole_run(FastWeightMlpPolicy, extra, seed, TASKS["cartpole"][1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"last": last, "best": best, "seconds": seconds}))
    print(f"cartpole {variant} seed {seed}: {last:.0f}", flush=True)


def catch_cells(variant: str) -> list[str]:
    runs = [r for r in run_dirs("catch", variant) if (r / "model.zip").exists()]
    if not runs:
        return ["not run"] * (len(THRESHOLDS) + 1)
    curves = [load_curve(r) for r in runs]
    return [*threshold_cells(curves), ", ".join(f"{c.values[-1]:.2f}" for c in curves)]


def recall_cells(variant: str) -> list[str]:
    runs = [r for r in run_dirs("recall", variant) if (r / "model.zip").exists()]
    if not runs:
        return ["not run", "not run"]
    curves = [load_curve(r) for r in runs]
    final = ", ".join(f"{c.values[-1]:.2f}" for c in curves)
    kept = ", ".join(f"{int((c.values >= 0.995).sum())}/{len(c.values)}" for c in curves)
    return [final, kept]


def cartpole_cells(variant: str) -> list[str]:
    found = [json.loads(cartpole_file(variant, s).read_text()) for s in TASKS["cartpole"][2]
             if cartpole_file(variant, s).exists()]  # fmt: skip
    if not found:
        return ["not run"]
    return [", ".join(f"{r['last']:.0f}" for r in found) + f" ({sum(r['last'] > 450 for r in found)}/{len(found)})"]


def further_table() -> str:
    """Final success per seed on the further tasks, for every variant that has runs there."""
    rows = ["| variant | " + " | ".join(f"{TASKS[t][0]}: final success per seed (mean)" for t in FURTHER) + " |",
            "|---|" + "---|" * len(FURTHER)]  # fmt: skip
    for variant in VARIANTS:
        cells = []
        for task in FURTHER:
            runs = [r for r in run_dirs(task, variant) if (r / "model.zip").exists()]
            finals = [float(load_curve(r).values[-1]) for r in runs]
            cells.append(f"{', '.join(f'{v:.2f}' for v in finals)} ({np.mean(finals):.2f})" if finals else "not run")
        if any(c != "not run" for c in cells):
            rows.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def table() -> str:
    rows = [
        "| variant | what changes | catch: steps to 50% | to 80% | to 95% | final catch | "
        "L100: final success | L100: evals at 1.00 | CartPole: last return (runs > 450) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for variant, (_, _, what) in VARIANTS.items():
        cells = [variant, what, *catch_cells(variant), *recall_cells(variant), *cartpole_cells(variant)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--table-only", action="store_true", help="rebuild the table from finished runs")
    args = parser.parse_args()
    if not args.table_only:
        jobs = [job for task in args.tasks if task != "cartpole" for v in args.variants
                for job in expand(sweep_config(task, v))]  # fmt: skip
        run_local(jobs, args.jobs)
        if "cartpole" in args.tasks:
            torch.set_num_threads(1)
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(args.jobs) as pool:
                list(pool.map(_cartpole_job, [(v, s) for v in args.variants for s in TASKS["cartpole"][2]]))
    body = (
        "## Fast-weight remedies, one at a time\n\n" + table() + "\n\n"
        "`python benchmarks/fw_ablation.py` (run folders under `runs/fw_ablation/`). Per seed: MemoryCatch-v0 "
        "seeds 0 1 2 at 600k steps (hyperparams.yml's MemoryCatch settings, H = 64, evaluation of 200 episodes "
        "every 25k steps), DelayedRecall-L100-v0 seeds 0 1 2 at 200k steps (the DelayedRecall settings: 16 envs × "
        "64-step rollouts, lr 1e-3, entropy 0.01; 100 deterministic evaluation episodes every 25k), sb3-contrib's "
        "CartPole-without-velocities recipe seeds 1 2 3 at 50k steps. Every `fw-rnn` variant starts from the "
        "paper's settings (λ 0.95, η 0.5 fixed, no gate) and changes what its row says; the `lstm_…` rows are the "
        "default core (`fw`) and changes to it; all run under identical PPO "
        "settings per task, two runs at a time on the 2-core machine, one torch thread each.\n\n"
        "Further memory tasks (hyperparams.yml's settings for each; MemoryCatch-24-v0 at 1M steps, "
        "AssociativeRecall-v0 at 500k; seeds 0 1 2; final evaluation's success rate):\n\n" + further_table()
    )
    write_section("fw-ablation", body)
    print(body)


def _cartpole_job(item: tuple[str, int]) -> None:
    torch.set_num_threads(1)
    run_cartpole(*item)


if __name__ == "__main__":
    main()
