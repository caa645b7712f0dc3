"""Reproduce Table 1 of Ba et al. (2016): associative retrieval test error by model and R.

    python benchmarks/assoc_table.py                      # full table: writes RESULTS.md sections + PNG
    python benchmarks/assoc_table.py --quick              # pipeline check in about a minute

Every core (fw, lstm, irnn, alstm) at R = 20, 50, 100 with ``--seeds`` seeds, each run
limited to ``--epochs`` passes over the 100,000 training sequences and ``--time-limit``
seconds of CPU (whichever comes first), runs in parallel processes (``--jobs``). Then the
inner-loop sweep S = 1, 2, 3 for fast weights at R = 20. Results go to
``benchmarks/results/assoc/*.json``, a markdown table into RESULTS.md (between markers, next
to the paper's numbers) and ``benchmarks/results/assoc_r20.png`` (validation error against
training steps at R = 20).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import ROOT, mean_std, paper_table, pyplot, run_json, write_section

OUT = ROOT / "benchmarks" / "results"
RESULTS = ROOT / "RESULTS.md"
CORES = ["fw-paper", "lstm", "irnn", "alstm"]
SIZES = [20, 50, 100]
# Table 1 of the paper, test error in %, as reported by Ba et al. (2016) — the paper's numbers.
PAPER = {
    "irnn": [62.11, 60.23, 0.34],
    "lstm": [60.81, 1.85, 0.0],
    "alstm": [60.13, 1.62, 0.0],
    "fw-paper": [1.81, 0.0, 0.0],
}
NAMES = {"fw-paper": "Fast weights (paper)", "lstm": "LSTM", "irnn": "IRNN", "alstm": "A-LSTM"}


def run_one(core: str, hidden: int, seed: int, args: argparse.Namespace, inner_steps: int | None = None) -> dict:
    tag = f"{core}_R{hidden}_seed{seed}" + (f"_S{inner_steps}" if inner_steps else "")
    cli = ["--core", core, "--hidden", str(hidden), "--seed", str(seed), "--epochs", str(args.epochs),
           "--time-limit", str(args.time_limit), "--threads", "1"]  # fmt: skip
    if inner_steps:
        cli += ["--inner-steps", str(inner_steps)]
    if args.quick:
        cli += ["--train-size", "5000"]
    return run_json("train.assoc", cli, OUT / "assoc" / f"{tag}.json", args.rerun)


def long_budget(args: argparse.Namespace) -> None:
    """Fast weights and LSTM at R = 20 with a longer budget (``--long SECONDS``, 200 epochs at most)."""
    jobs = [(core, seed) for core in ("fw-paper", "lstm") for seed in range(args.seeds)]

    def run(job: tuple[str, int]) -> dict:
        core, seed = job
        cli = ["--core", core, "--hidden", "20", "--seed", str(seed), "--epochs", "200", "--time-limit",
               f"{args.long:g}", "--threads", "1"]  # fmt: skip
        return run_json("train.assoc", cli, OUT / "assoc" / f"{core}_R20_seed{seed}_long.json", args.rerun)

    with ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(jobs, pool.map(run, jobs), strict=True))
    lines = ["| model (R = 20) | test error % per seed | mean | training steps | paper |", "|---|---|---|---|---|"]
    for core in ("fw-paper", "lstm"):
        runs = [results[(core, seed)] for seed in range(args.seeds)]
        errors = [100 * r["test_error"] for r in runs]
        steps = ", ".join(f"{r['steps']:,}" for r in runs)
        cells = ", ".join(f"{e:.2f}" for e in errors)
        lines.append(f"| {NAMES[core]} | {cells} | {statistics.mean(errors):.2f} | {steps} | {PAPER[core][0]:.2f} |")
    write_section(
        "assoc-long",
        results=RESULTS,
        body="## Associative retrieval at R = 20 with a longer budget\n\n" + "\n".join(lines) + "\n\n"
        f"`python benchmarks/assoc_table.py --long {args.long:g} --seeds {args.seeds}`: each run at most 200 epochs "
        f"or {args.long:g} s on one torch thread, otherwise as the table above.",
    )


def sweep_table(sweep: dict) -> str:
    lines = ["| S (inner steps) | test error % (mean ± std) | seconds per run |", "|---|---|---|"]
    for steps, runs in sweep.items():
        errors = [100 * r["test_error"] for r in runs]
        lines.append(f"| {steps} | {mean_std(errors)} | {statistics.mean(r['seconds'] for r in runs):.0f} |")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for core in CORES:
        for k, run in enumerate(results[(core, 20)]):
            steps, errors = zip(*run["curve"], strict=True)
            ax.plot(steps, [100 * e for e in errors], color=f"C{CORES.index(core)}", alpha=0.8,
                    label=NAMES[core] if k == 0 else None)  # fmt: skip
    ax.set_xlabel("training steps (batch 128)")
    ax.set_ylabel("validation error %")
    ax.set_title("Associative retrieval, R = 20")
    ax.set_ylim(0, 100)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    global OUT, RESULTS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=float, default=30)
    parser.add_argument("--time-limit", type=float, default=240, help="CPU seconds per run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="tiny data and budget: checks the pipeline")
    parser.add_argument("--rerun", action="store_true", help="ignore finished runs in benchmarks/results/assoc")
    parser.add_argument("--long", type=float, metavar="SECONDS", help="only: fw and lstm at R = 20, longer budget")
    args = parser.parse_args()
    if args.long:
        (OUT / "assoc").mkdir(parents=True, exist_ok=True)
        long_budget(args)
        return
    if args.quick:
        args.epochs, args.time_limit, args.seeds = 1, 20, 1
        OUT = Path(os.environ.get("TMPDIR", "/tmp")) / "fw_agents_assoc_quick"
        RESULTS = OUT / "RESULTS.md"
        args.rerun = True
    (OUT / "assoc").mkdir(parents=True, exist_ok=True)
    jobs = [(core, hidden, seed, None) for hidden in SIZES for core in CORES for seed in range(args.seeds)]
    jobs += [("fw-paper", 20, seed, steps) for steps in (2, 3) for seed in range(args.seeds)]
    start = time.time()
    with ThreadPoolExecutor(args.jobs) as pool:
        finished = list(pool.map(lambda job: run_one(*job[:3], args, job[3]), jobs))
    results: dict = {}
    for (core, hidden, _, steps), result in zip(jobs, finished, strict=True):
        results.setdefault((core, hidden) if steps is None else ("sweep", steps), []).append(result)
    sweep = {1: results[("fw-paper", 20)], 2: results[("sweep", 2)], 3: results[("sweep", 3)]}
    png = OUT / "assoc_r20.png"
    plot(results, png)
    command = f"python benchmarks/assoc_table.py --seeds {args.seeds} --epochs {args.epochs:g}"
    budget = (
        f"`{command} --time-limit {args.time_limit:g}`"
        f" on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), one torch thread per run, "
        f"{args.jobs} runs at a time; seeds 0–{args.seeds - 1} (data splits and initialisation); each run at most "
        f"{args.epochs:g} epochs of the 100,000 training sequences or {args.time_limit:g} s, Adam lr 1e-3, batch 128, "
        f"gradient clipping 5, embedding 100, read-out ReLU layer of 100; the model with the best validation error "
        f"is tested. Wall clock for the whole table: {(time.time() - start) / 60:.0f} min."
    )
    write_section(
        "assoc-table",
        results=RESULTS,
        body="## Associative retrieval (Table 1)\n\n"
        "Test error in % (ours: mean ± std over seeds; paper: Ba et al. 2016, "
        f"Table 1, the paper's numbers).\n\n{paper_table(results, CORES, NAMES, SIZES, PAPER, 'R')}\n\n{budget}\n\n"
        f"Validation error during training at R = 20: ![assoc R=20]({png if args.quick else png.relative_to(ROOT)})",
    )
    write_section(
        "assoc-sweep",
        results=RESULTS,
        body="## Inner-loop steps S for fast weights (R = 20)\n\nThe reading note asked why the paper used S = 1. "
        f"Same budget as above:\n\n{sweep_table(sweep)}",
    )
    print(f"wrote {RESULTS} and {png}")


if __name__ == "__main__":
    main()
