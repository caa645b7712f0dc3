"""The agents experiment: catch rate against env steps on MemoryCatch, per core, over seeds.

    python benchmarks/catch_curves.py                  # both paper settings, 4 cores, 3 seeds
    python benchmarks/catch_curves.py --settings 16    # only 16×16 with 3 visible frames
    python benchmarks/catch_curves.py --tune           # first the equal tuning budget (seed 100)
    python benchmarks/catch_curves.py --defaults       # every core untuned (hyperparams.yml), for contrast
    python benchmarks/catch_curves.py --ablation --seeds 2   # fast-weight variants (η, W init), 16×16
    python benchmarks/catch_curves.py --quick          # pipeline check, a few minutes

Identical PPO settings for every core (``fw_agents/hyperparams.yml``); hidden sizes chosen so the
cores have about the same number of recurrent parameters as the fast-weight core at H = 64
(``matched_hidden``). Seeds 0, 1, 2 are reported; evaluation uses held-out env seeds
(seed + 10,000), 200 episodes every 25,000 steps. Budgets: 600k env steps per run on 16×16,
1M on 24×24 (``--timesteps`` overrides both).

``--tune`` first gives every core the same budget of six 300k-step runs on the 16×16 game,
seed 100 (not reported): fast weights try learning rates lin_0.002 / 0.003 × fast learning
rate η 0.5 / 0.1 / 0.02 (decay 0.95), the other cores six learning rates from lin_0.0005 to
lin_0.004. The best mean
catch rate over the last three evaluations picks each core's setting, used on both game
sizes; without ``--tune`` the last tuning result (``runs/catch_curves/tuned.yml``) is reused
if there is one, else the defaults.

Writes run folders under ``runs/catch_curves/``, ``benchmarks/results/catch_<setting>.png``
(mean and min–max band per core, oracle and memoryless references) and a table in
RESULTS.md: env steps to reach 50 / 80 / 95 % catch (each seed's first evaluation at or above it),
final catch rate, wall-clock time per run.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import yaml
from _common import ROOT, THRESHOLDS, mean_std, report, threshold_cells

from fw_agents.plotting import load_curve, plot_curves
from fw_agents.sweep import expand, run_local

# the paper's claim is about Ba et al.'s fast-weight RNN with the paper's settings: the published tables
# ran it when "fw" named it (today "fw-paper"); pinned by its permanent name
FW = "fw-paper"
CORES = [FW, "lstm", "irnn", "gru"]
SETTINGS = {"16": ("MemoryCatch", 600_000), "24": ("MemoryCatch-24", 1_000_000)}
TUNE_SEED = 100
TUNE_TIMESTEPS = 300_000
QUICK_TIMESTEPS = 4096
TUNE_LRS_FW = ["lin_0.002", "lin_0.003"]
TUNE_ETAS = [0.5, 0.1, 0.02]
TUNE_LRS = ["lin_0.0005", "lin_0.001", "lin_0.0015", "lin_0.002", "lin_0.003", "lin_0.004"]
REFERENCES = {"16": {"oracle (perfect memory)": 1.0, "memoryless": 0.435},
              "24": {"oracle (perfect memory)": 1.0, "memoryless": 0.455}}  # fmt: skip
THRESHOLD_HEADER = " | ".join(f"steps to {int(100 * t)}% (per seed)" for t in THRESHOLDS)
INPUT_SIZE = {"16": 256, "24": 576}


def core_parameters(core: str, hidden: int, inputs: int) -> int:
    """Recurrent-core parameters (what differs between the policies)."""
    gates = {FW: 1, "irnn": 1, "gru": 3, "lstm": 4}[core]
    extra = 3 * hidden if core == FW else 0  # bias + LN gain and bias (biases counted once)
    return gates * hidden * (inputs + hidden + (1 if core == FW else 2)) + extra


def matched_hidden(core: str, inputs: int, reference: int = 64) -> int:
    """The hidden size whose parameter count is closest to the fast-weight core's at ``reference``."""
    target = core_parameters(FW, reference, inputs)
    return min(range(8, 4 * reference + 1), key=lambda h: abs(core_parameters(core, h, inputs) - target))


def run_minutes(runs: list[Path]) -> float:
    """Training wall-clock minutes of the runs, summed (from each run's summary.json)."""
    return sum(json.loads((run / "summary.json").read_text())["wall_seconds"] for run in runs) / 60


def table_row(core: str, setting: str, members: list, runs: list[Path], choice: str) -> str:
    cells = threshold_cells(members)
    finals = [float(c.values[-1]) for c in members]
    minutes = run_minutes(runs) / len(runs)
    hidden = matched_hidden(core, INPUT_SIZE[setting])
    params = core_parameters(core, hidden, INPUT_SIZE[setting])
    final = mean_std(finals, digits=3)
    return f"| {core} | {choice} | {hidden} | {params:,} | {' | '.join(cells)} | {final} | {minutes:.1f} min |"


def sweep_config(env: str, core: str, seeds: list[int], timesteps: int, folder: Path, variants: dict,
                 args: argparse.Namespace) -> dict:  # fmt: skip
    config = {"envs": [env], "cores": [core], "seeds": seeds, "timesteps": timesteps, "log_folder": str(folder),
              "threads": 1, "extra_args": ["--eval-freq", "25000"], "variants": variants}  # fmt: skip
    if args.quick:
        config["extra_args"] = ["--eval-freq", "2048", "--n-envs", "4", "--hyperparams", "n_steps:64",
                                "batch_size:128", "n_epochs:2", "eval_episodes:10"]  # fmt: skip
    return config


def tuning_grid(core: str) -> dict[str, dict]:
    """Six runs per core: two learning rates × fast learning rate η 0.5 / 0.1 / 0.02 for fast weights
    (the η·‖h‖²/(1−λ) memory term dwarfs the input at η = 0.5: ``benchmarks/memory_scale.py``),
    six learning rates for the others."""
    if core == FW:
        return {f"{lr}_eta{eta}": {"learning_rate": lr, "policy_kwargs": {"fast_lr": eta}}
                for lr in TUNE_LRS_FW for eta in TUNE_ETAS}  # fmt: skip
    return {lr: {"learning_rate": lr} for lr in TUNE_LRS}


def with_hidden(overrides: dict, core: str, setting: str) -> dict:
    """``overrides`` plus the parameter-matched hidden size of ``core`` at ``setting``."""
    policy_kwargs = {
        **overrides.get("policy_kwargs", {}),
        "lstm_hidden_size": matched_hidden(core, INPUT_SIZE[setting]),
    }
    return {**overrides, "policy_kwargs": policy_kwargs}


def tune(folder: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """The equal tuning budget on seed 100 of the 16×16 game; returns each core's score per variant."""
    scores = {}
    for core in CORES:
        grid = {name: with_hidden(overrides, core, "16") for name, overrides in tuning_grid(core).items()}
        config = sweep_config(SETTINGS["16"][0], core, [TUNE_SEED], args.tune_timesteps, folder, grid, args)
        run_local(expand(config), args.jobs)
        scores[core] = {name: tuning_score(run_dirs(config, name)[0]) for name in grid}
        print(f"tuned {core}: {best_variant(scores[core])} (mean of the last 3 evaluations: {scores[core]})",
              flush=True)  # fmt: skip
    return scores


def best_variant(scores: dict[str, float]) -> str:
    return max(scores, key=scores.get)


def run_dirs(config: dict, variant: str) -> list[Path]:
    """The run folders of one variant of a sweep configuration, per seed (named by the sweep itself)."""
    return [job.run_dir for job in expand({**config, "variants": {variant: config["variants"][variant]}})]


def tuning_score(run: Path) -> float:
    """Mean catch rate of a tuning run's last three evaluations."""
    return float(load_curve(run).values[-3:].mean())


def tuning_table(scores: dict[str, dict[str, float]], timesteps: int, command: str, jobs: int) -> str:
    rows = ["| core | setting tried | final catch (seed 100) | chosen |", "|---|---|---|---|"]
    for core in CORES:
        for name, score in scores[core].items():
            rows.append(f"| {core} | {name} | {score:.3f} | {'✓' if best_variant(scores[core]) == name else ''} |")
    return (f"## Agents experiment: the equal tuning budget\n\nSix runs per core on seed {TUNE_SEED} (not reported "
            f"below), {timesteps:,} env steps each, MemoryCatch-v0 (16×16, M = 3), parameter-matched hidden sizes; "
            "score = mean catch rate of the last three evaluations (200 held-out episodes each). The chosen setting "
            "is used for both game sizes.\n\n" + "\n".join(rows) +
            f"\n\n`{command}` (tunes, then runs the settings below); {jobs} runs at a time.")  # fmt: skip


ABLATION = {  # name: (η, W initial scale); decay 0.95, S = 1, LN on, as the fast-weight core's defaults
    "eta0.5_W0.05": (0.5, 0.05),
    "eta0.02_W0.05": (0.02, 0.05),
    "eta0.005_W0.05": (0.005, 0.05),
    "eta0_W0.05": (0.0, 0.05),
    "eta0_W1": (0.0, 1.0),
    "eta0.02_W1": (0.02, 1.0),
    "eta0.005_W1": (0.005, 1.0),
}


def ablation(folder: Path, choice: dict[str, str], seeds: list[int], args: argparse.Namespace) -> str:
    """The paper's fast-weight core (``fw-paper``) on 16×16 at the tuned learning rate, its η and W(0)
    varied: which part slows learning down?"""
    lr = tuning_grid(FW).get(choice.get(FW, ""), {}).get("learning_rate", "lin_0.002")
    variants = {name: with_hidden({"learning_rate": lr, "policy_kwargs": {"fast_lr": eta, "core_kwargs": {
        "recurrent_init_scale": scale}}}, FW, "16") for name, (eta, scale) in ABLATION.items()}  # fmt: skip
    env = SETTINGS["16"][0]
    config = sweep_config(env, "fw-paper", seeds, args.ablation_timesteps, folder, variants, args)
    run_local(expand(config), args.jobs)
    rows = [f"| η | W(0) | {THRESHOLD_HEADER} | catch at the end (per seed) |", "|---|---|---|---|---|---|"]
    for name, (eta, scale) in ABLATION.items():
        curves = [load_curve(run) for run in run_dirs(config, name)]
        cells = threshold_cells(curves)
        finals = ", ".join(f"{c.values[-1]:.2f}" for c in curves)
        rows.append(f"| {eta} | {scale}·I | {' | '.join(cells)} | {finals} |")
    return (f"## Agents experiment: what slows the fast-weight agent down?\n\nThe fast-weight core on "
            f"{env}-v0 with its memory (η) and its slow recurrent initialisation W(0) varied; learning rate {lr} "
            f"(the tuned one), H = 64, decay 0.95, seeds {seeds}, {args.ablation_timesteps:,} env steps per run. "
            "η = 0 leaves a layer-normalised ReLU RNN.\n\n" + "\n".join(rows) +
            f"\n\n`python benchmarks/catch_curves.py --ablation --ablation-timesteps {args.ablation_timesteps} "
            f"--seeds {len(seeds)}`")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--timesteps", type=int, help="override each setting's budget")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--tune", action="store_true", help="run the equal tuning budget first")
    parser.add_argument("--tune-timesteps", type=int, default=TUNE_TIMESTEPS, help="env steps per tuning run")
    parser.add_argument("--defaults", action="store_true", help="every core with hyperparams.yml's settings, untuned")
    parser.add_argument("--ablation", action="store_true", help="only the fast-weight ablation (after tuning)")
    parser.add_argument("--ablation-timesteps", type=int, default=300_000, help="env steps per ablation run")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.timesteps = args.tune_timesteps = args.ablation_timesteps = QUICK_TIMESTEPS
    folder = ROOT / "runs" / ("catch_curves_quick" if args.quick else "catch_curves")
    out_dir = folder if args.quick else ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = list(range(1 if args.quick else args.seeds))
    tuned_path = folder / "tuned.yml"
    if args.tune:
        run_tuning(folder, tuned_path, args)
    choice = yaml.safe_load(tuned_path.read_text())["choice"] if tuned_path.exists() and not args.defaults else {}
    if args.ablation:
        ablation_folder = folder / f"ablation_steps{args.ablation_timesteps}"
        report(ablation(ablation_folder, choice, seeds, args), "catch-ablation", args.quick)
        return
    for setting in args.settings:
        run_setting(setting, folder, out_dir, seeds, choice, args)


def run_tuning(folder: Path, tuned_path: Path, args: argparse.Namespace) -> None:
    """``--tune``: the equal tuning budget; writes each core's choice to ``tuned_path`` and the table."""
    tune_folder = folder / f"tune_steps{args.tune_timesteps}"
    scores = tune(tune_folder, args)
    best = {core: best_variant(core_scores) for core, core_scores in scores.items()}
    tuned_path.write_text(yaml.safe_dump({"tune_timesteps": args.tune_timesteps, "choice": best}))
    command = "python benchmarks/catch_curves.py --tune"
    if args.tune_timesteps != TUNE_TIMESTEPS:
        command += f" --tune-timesteps {args.tune_timesteps}"
    report(tuning_table(scores, args.tune_timesteps, command, args.jobs), "catch-tuning", args.quick)


def run_setting(setting: str, folder: Path, out_dir: Path, seeds: list[int], choice: dict[str, str],
                args: argparse.Namespace) -> None:  # fmt: skip
    """One game size: every core at its chosen (or default) setting over the seeds; PNG and table."""
    suffix = "_defaults" if args.defaults else ""
    env, budget = SETTINGS[setting]
    budget = args.timesteps or budget
    runs_folder = folder / f"steps{budget}"
    names = {core: choice.get(core, "default") for core in CORES}
    configs = {}
    for core in CORES:
        overrides = tuning_grid(core).get(names[core], {})
        variants = {names[core]: with_hidden(overrides, core, setting)}
        configs[core] = sweep_config(env, core, seeds, budget, runs_folder, variants, args)
    run_local([job for config in configs.values() for job in expand(config)], args.jobs)
    runs = {core: run_dirs(configs[core], names[core]) for core in CORES}
    curves = [load_curve(run) for core in CORES for run in runs[core]]
    title = f"{env}-v0: catch rate (held-out seeds){', untuned' if args.defaults else ''}"
    png = plot_curves(curves, out_dir / f"catch_{setting}{suffix}.png", title=title, references=REFERENCES[setting])
    rows = [f"| core | setting | hidden | params | {THRESHOLD_HEADER} | final catch | wall-clock per run |",
            "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    rows += [table_row(core, setting, [c for c in curves if c.group == core], runs[core], names[core])
             for core in CORES]  # fmt: skip
    link = png if args.quick else png.relative_to(ROOT)
    tuned_note = "from the equal tuning budget (table above)" if choice else "none (hyperparams.yml defaults)"
    body = (f"## Agents experiment: {title.split(':')[0]}{', untuned' if args.defaults else ''}\n\n"
            + "\n".join(rows) + f"\n\n![catch curves]({link})\n\n"
            f"`python benchmarks/catch_curves.py --settings {setting} --seeds {args.seeds}"
            f"{f' --timesteps {args.timesteps}' if args.timesteps else ''}"
            f"{' --defaults' if args.defaults else ''}`; seeds {seeds}; {budget:,} env steps "
            f"per run; {os.cpu_count()} CPU cores, one torch thread per run, {args.jobs} runs at a time; "
            f"{run_minutes([r for core in CORES for r in runs[core]]):.0f} run-minutes in all. "
            f"Tuned settings: {tuned_note}.")  # fmt: skip
    report(body, f"catch-{setting}{suffix.replace('_', '-')}", args.quick)


if __name__ == "__main__":
    main()
