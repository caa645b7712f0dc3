"""Table 2 of Ba et al. (2016): classification error from multi-level glimpses by hidden size.

    python benchmarks/glimpse_table.py                              # sklearn digits (no files needed)
    python benchmarks/glimpse_table.py --data-dir ~/data/mnist      # real MNIST, comparable with the paper
    python benchmarks/glimpse_table.py --dataset Fashion-MNIST      # Debian's dataset-fashion-mnist
    python benchmarks/glimpse_table.py --dataset Fashion-MNIST --models fw-paper,lstm --sizes 100 --steps 10000
    python benchmarks/glimpse_table.py --quick                      # pipeline check

The paper's fast weights, the package's default fast-weight core, LSTM, IRNN and the ConvNet
reference at hidden sizes 50, 100, 200, ``--seeds`` seeds each, every run ``--steps`` parameter
updates (equal for every model; ``--time-limit`` seconds is a safety net, and the table lists
any run it cut short), in parallel processes; finished runs of the same budget are reused
(``--rerun`` repeats them). Writes ``benchmarks/results/glimpses/<data
set>/*.json`` and a table into RESULTS.md beside the paper's, named by the data set actually
read; only MNIST is comparable with the paper's numbers. ``--models`` / ``--sizes`` run part of
the table (its own RESULTS.md section, named by the budget), e.g. a longer budget for a few models.
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import ROOT, paper_table, per_seed, report, run_json, run_minutes, time_limited

OUT = ROOT / "benchmarks" / "results" / "glimpses"
MODELS = ["fw-paper", "fw-rnn", "fw-lstm", "lstm", "irnn", "convnet"]
SIZES = [50, 100, 200]
# Table 2 of the paper: MNIST test error in % — the paper's numbers.
PAPER = {
    "irnn": {50: 12.95, 100: 1.95, 200: 1.42},
    "lstm": {50: 12.00, 100: 1.55, 200: 1.10},
    "convnet": {50: 1.81, 100: 1.00, 200: 0.90},
    "fw-paper": {50: 7.21, 100: 1.30, 200: 0.85},
}
NAMES = {"fw-paper": "Fast weights (paper)", "fw-rnn": "Fast-weight RNN, gated read-out (fw-rnn)",
         "fw-lstm": "LSTM + fast-weight memory (package default)", "lstm": "LSTM", "irnn": "IRNN",
         "convnet": "ConvNet"}  # fmt: skip


def run_one(model: str, hidden: int, seed: int, args: argparse.Namespace, out_dir: Path) -> dict:
    cli = ["--core", model, "--hidden", str(hidden), "--seed", str(seed), "--steps", str(args.steps),
           "--time-limit", str(args.time_limit), "--threads", "1"]  # fmt: skip
    if args.data_dir:
        cli += ["--data-dir", str(args.data_dir)]
    if args.dataset:
        cli += ["--dataset", args.dataset]
    return run_json("train.glimpses", cli, out_dir / f"{model}_H{hidden}_seed{seed}_steps{args.steps}.json", args.rerun)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", "--mnist-dir", dest="data_dir", type=Path, help="an IDX folder (MNIST format)")
    parser.add_argument("--dataset", help="its name (default: recognised); Fashion-MNIST alone reads Debian's folder")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2_000, help="parameter updates per run, every model")
    parser.add_argument("--time-limit", type=float, default=1800, help="safety net, seconds per run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {','.join(MODELS)}")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated hidden sizes")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rerun", action="store_true")
    args = parser.parse_args()
    from fw_agents.supervised.glimpses import load_dataset

    models, sizes = args.models.split(","), args.sizes.split(",")
    if unknown := [m for m in models if m not in MODELS]:
        raise SystemExit(f"error: unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    if not all(n.isdigit() and int(n) > 0 for n in sizes):
        raise SystemExit(f"error: --sizes must be positive integers, got {args.sizes!r}")
    sizes = [int(n) for n in sizes]
    try:
        dataset = load_dataset(args.data_dir, args.dataset)[1]
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}") from err
    slug = dataset.lower().replace(" ", "-").replace("×", "x").replace("/", "-")
    out_dir = OUT / slug
    if args.quick:
        args.steps, args.time_limit, args.seeds, args.rerun = 20, 30, 1, True
        out_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "fw_agents_glimpses_quick"
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(model, hidden, seed) for hidden in sizes for model in models for seed in range(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        finished = list(pool.map(lambda job: run_one(*job, args, out_dir), jobs))
    results: dict = {}
    for (model, hidden, _), result in zip(jobs, finished, strict=True):
        results.setdefault((model, hidden), []).append(result)
    caveats = {
        "MNIST": "",
        "Fashion-MNIST": "\n\n**Fashion-MNIST, not MNIST**: the paper's numbers are MNIST's and not comparable; "
        "compare the ordering of the models.",
    }
    caveat = caveats.get(dataset, f"\n\n**{dataset}, not MNIST**: not comparable with the paper's numbers.")
    cut = time_limited(results)
    whole = models == MODELS and sizes == SIZES
    flags = (f" --data-dir {args.data_dir}" if args.data_dir else "") + (f" --dataset {args.dataset}" if args.dataset
                                                                            else "")  # fmt: skip
    if not whole:
        flags += f" --models {args.models} --sizes {args.sizes}"
    title = "" if whole else f", {args.steps:,} updates"
    body = (
        f"## Multi-level glimpses (Table 2), {dataset}{title}\n\n"
        f"Test error in % on {dataset} (ours: mean ± std over seeds "
        f"0–{args.seeds - 1}, {args.steps:,} parameter updates for every model; paper: Ba et al. 2016, Table 2, "
        "MNIST — the paper's numbers).\n\n"
        + paper_table(results, models, NAMES, sizes, PAPER, "H")
        + f"\n\nPer seed: {per_seed(results, NAMES, 'H')}.{caveat}"
        + f"\n\n`python benchmarks/glimpse_table.py{flags} --seeds {args.seeds} --steps {args.steps} "
        f"--time-limit {args.time_limit:g}` on {os.cpu_count()} CPU cores, one torch thread per run, {args.jobs} at a "
        f"time, Adam lr 1e-3, batch 128; best-on-validation model tested; 24 glimpses per image (schedule in "
        f"`fw_agents/supervised/glimpses.py`). Runs cut short by the time limit: {', '.join(cut) or 'none'}. "
        f"The runs' wall clocks add up to {run_minutes(results)}."
    )  # fmt: skip
    section = "glimpse-table-digits" if args.data_dir is None and args.dataset is None else f"glimpse-table-{slug}"
    if not whole:
        section += f"-{'-'.join(models)}-H{'-'.join(map(str, sizes))}-steps{args.steps}"
    report(body, section, args.quick)


if __name__ == "__main__":
    main()
