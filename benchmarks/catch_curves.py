"""The agents experiment: catch rate against env steps on MemoryCatch, per core, over seeds.

    python benchmarks/catch_curves.py                  # both paper settings, 4 cores, 3 seeds
    python benchmarks/catch_curves.py --settings 16    # only 16×16 with 3 visible frames
    python benchmarks/catch_curves.py --tune           # first the equal tuning budget (seed 100)
    python benchmarks/catch_curves.py --quick          # pipeline check, a few minutes

Identical PPO settings for every core (``train/hyperparams.yml``); hidden sizes chosen so the
cores have about the same number of recurrent parameters as the fast-weight core at H = 64
(``matched_hidden``). Seeds 0, 1, 2 are reported; evaluation uses held-out env seeds
(seed + 10,000), 200 episodes every 25,000 steps. ``--tune`` gives every core the same small
budget on seed 100 (not reported): learning rates lin_0.001 / lin_0.002 / lin_0.003, and for
fast weights also decay 0.9 / 0.95; the best final catch rate picks each core's setting.

Writes run folders under ``runs/catch_curves/``, ``benchmarks/results/catch_<setting>.png``
(mean and min–max band per core, oracle and memoryless references) and a table in
RESULTS.md: env steps to reach 50 / 80 / 95 % catch (mean over the seeds that reached it),
final catch rate, wall-clock time per run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import yaml
from _common import ROOT, write_section

from fw_agents.plotting import load_curve, plot_curves
from fw_agents.sweep import expand, run_local

CORES = ["fw", "lstm", "irnn", "gru"]
SETTINGS = {"16": ("MemoryCatch", 1_000_000), "24": ("MemoryCatch-24", 3_000_000)}
REFERENCES = {"16": {"oracle (perfect memory)": 1.0, "memoryless": 0.435},
              "24": {"oracle (perfect memory)": 1.0, "memoryless": 0.455}}  # fmt: skip
THRESHOLDS = (0.5, 0.8, 0.95)
INPUT_SIZE = {"16": 256, "24": 576}


def core_parameters(core: str, hidden: int, inputs: int) -> int:
    """Recurrent-core parameters (what differs between the policies)."""
    gates = {"fw": 1, "irnn": 1, "gru": 3, "lstm": 4}[core]
    extra = 3 * hidden if core == "fw" else 0  # bias + LN gain and bias (biases counted once)
    return gates * hidden * (inputs + hidden + (1 if core == "fw" else 2)) + extra


def matched_hidden(core: str, inputs: int, reference: int = 64) -> int:
    """The hidden size whose parameter count is closest to the fast-weight core's at ``reference``."""
    target = core_parameters("fw", reference, inputs)
    return min(range(8, 4 * reference + 1), key=lambda h: abs(core_parameters(core, h, inputs) - target))


def steps_to(curve_steps: np.ndarray, values: np.ndarray, threshold: float) -> float | None:
    reached = np.flatnonzero(values >= threshold)
    return float(curve_steps[reached[0]]) if reached.size else None


def hidden_for(core: str, setting: str, tuned: dict) -> int:
    """The tuned hidden size, else the parameter-matched one."""
    chosen = (tuned.get(core) or {}).get("policy_kwargs", {}).get("lstm_hidden_size")
    return chosen or matched_hidden(core, INPUT_SIZE[setting])


def table_row(core: str, setting: str, members: list, runs: list[Path], tuned: dict) -> str:
    cells = []
    for threshold in THRESHOLDS:
        hits = [s for c in members if (s := steps_to(c.steps, c.values, threshold)) is not None]
        cells.append(f"{statistics.mean(hits):,.0f} ({len(hits)}/{len(members)})" if hits else f"— (0/{len(members)})")
    finals = [float(c.values[-1]) for c in members]
    minutes = statistics.mean(yaml.safe_load((r / "summary.json").read_text())["wall_seconds"] for r in runs) / 60
    hidden = hidden_for(core, setting, tuned)
    params = core_parameters(core, hidden, INPUT_SIZE[setting])
    final = f"{statistics.mean(finals):.3f} ± {statistics.pstdev(finals):.3f}"
    return f"| {core} | {hidden} | {params:,} | {' | '.join(cells)} | {final} | {minutes:.1f} min |"


def sweep_config(setting: str, cores: list[str], seeds: list[int], folder: Path, args: argparse.Namespace,
                 variants: dict | None = None) -> dict:  # fmt: skip
    env, budget = SETTINGS[setting]
    config = {"envs": [env], "cores": cores, "seeds": seeds, "timesteps": args.timesteps or budget,
              "log_folder": str(folder), "jobs": args.jobs, "threads": 1,
              "extra_args": ["--eval-freq", "25000"]}  # fmt: skip
    if variants:
        config["variants"] = variants
    if args.quick:
        config["timesteps"] = 4096
        config["extra_args"] = ["--eval-freq", "2048", "--n-envs", "4", "--hyperparams", "n_steps:64",
                                "batch_size:128", "n_epochs:2", "eval_episodes:10"]  # fmt: skip
    return config


def tune(setting: str, folder: Path, args: argparse.Namespace) -> dict[str, dict]:
    """Equal budget per core on seed 100; returns each core's best overrides."""
    lrs = ["lin_0.001", "lin_0.002", "lin_0.003"]
    best = {}
    for core in CORES:
        hidden = matched_hidden(core, INPUT_SIZE[setting])
        variants = {}
        for lr in lrs:
            decays = [0.9, 0.95] if core == "fw" else [None]
            for decay in decays:
                pk = {"lstm_hidden_size": hidden, **({"decay": decay} if decay else {})}
                variants[f"{lr}" + (f"_d{decay}" if decay else "")] = {"learning_rate": lr, "policy_kwargs": pk}
        config = sweep_config(setting, [core], [100], folder / "tune", args, variants)
        run_local(expand(config), args.jobs)
        finals = {}
        for name in variants:
            run = folder / "tune" / f"{SETTINGS[setting][0]}_{core}_{name}_seed100"
            finals[name] = float(load_curve(run).values[-3:].mean())
        choice = max(finals, key=finals.get)
        best[core] = variants[choice]
        print(f"tuned {core} on {setting}: {choice} ({finals})", flush=True)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--timesteps", type=int, help="override each setting's budget")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--tune", action="store_true", help="run the equal tuning budget first")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    folder = ROOT / "runs" / ("catch_curves_quick" if args.quick else "catch_curves")
    out_dir = folder if args.quick else ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = list(range(1 if args.quick else args.seeds))
    for setting in args.settings:
        env, _ = SETTINGS[setting]
        tuned_path = folder / f"tuned_{setting}.yml"
        if args.tune:
            tuned_path.parent.mkdir(parents=True, exist_ok=True)
            tuned_path.write_text(yaml.safe_dump(tune(setting, folder, args)))
        tuned = yaml.safe_load(tuned_path.read_text()) if tuned_path.exists() else {}
        start = time.time()
        overrides = {core: tuned.get(core) or {"policy_kwargs": {"lstm_hidden_size": hidden_for(core, setting, {})}}
                     for core in CORES}  # fmt: skip
        jobs = [job for core in CORES for job in expand(sweep_config(setting, [core], seeds, folder, args,
                                                                     {"main": overrides[core]}))]  # fmt: skip
        run_local(jobs, args.jobs)
        runs = {core: [folder / f"{env}_{core}_main_seed{s}" for s in seeds] for core in CORES}
        curves = [load_curve(run) for core in CORES for run in runs[core]]
        png = plot_curves(curves, out_dir / f"catch_{setting}.png", title=f"{env}-v0: catch rate (held-out seeds)",
                          references=REFERENCES[setting])  # fmt: skip
        header = " | ".join(f"steps to {int(100 * t)}%" for t in THRESHOLDS)
        rows = [f"| core | hidden | params | {header} | final catch | wall-clock per run |",
                "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        rows += [table_row(core, setting, [c for c in curves if c.group == core], runs[core], tuned) for core in CORES]
        link = png if args.quick else png.relative_to(ROOT)
        body = (f"## Agents experiment: {env}-v0\n\n" + "\n".join(rows) + f"\n\n![catch curves]({link})\n\n"
                f"`python benchmarks/catch_curves.py --settings {setting} --seeds {args.seeds}"
                f"{f' --timesteps {args.timesteps}' if args.timesteps else ''}"
                f"{' --tune' if args.tune else ''}`; seeds {seeds}; {os.cpu_count()} CPU cores, one torch thread "
                f"per run, {args.jobs} runs at a time; wall clock {(time.time() - start) / 60:.0f} min. "
                f"Tuned settings: {tuned or 'none (hyperparams.yml defaults)'}.")  # fmt: skip
        if args.quick:
            print(body)
        else:
            write_section(f"catch-{setting}", body)


if __name__ == "__main__":
    main()
