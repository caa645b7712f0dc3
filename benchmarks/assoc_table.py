"""Reproduce Table 1 of Ba et al. (2016): associative retrieval test error by model and R.

    python benchmarks/assoc_table.py                      # full table: writes RESULTS.md sections + PNG
    python benchmarks/assoc_table.py --quick              # pipeline check in about a minute

Every model (the paper's fast weights, the package's default fast-weight core, LSTM, IRNN,
A-LSTM) at R = 20, 50, 100 with ``--seeds`` seeds, each run ``--steps`` parameter updates with
``--warmup`` updates of learning-rate warm-up and a ``--schedule`` (cosine decay by default) —
the same for every model; ``--time-limit`` seconds is a safety net and the table lists any run it
cut short — in parallel processes (``--jobs``). Then the inner-loop sweep S = 1, 2, 3 for the
paper's fast weights at R = 20. ``--long STEPS`` instead runs the fast-weight cores and the
LSTM at R = 20 for a longer budget. Finished runs are reused (``--rerun`` repeats them). Results go to
``benchmarks/results/assoc/*.json``, a markdown table into RESULTS.md (between markers, next
to the paper's numbers) and ``benchmarks/results/assoc_r20.png`` (validation error against
training steps at R = 20).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import ROOT, mean_std, paper_table, per_seed, pyplot, run_json, run_minutes, time_limited, write_section

from fw_agents.supervised.models import SCHEDULES

OUT = ROOT / "benchmarks" / "results"
RESULTS = ROOT / "RESULTS.md"
CORES = ["fw-paper", "fw-rnn", "fw-lstm", "lstm", "irnn", "alstm"]
SIZES = [20, 50, 100]
# Table 1 of the paper, test error in %, as reported by Ba et al. (2016) — the paper's numbers.
PAPER = {
    "irnn": {20: 62.11, 50: 60.23, 100: 0.34},
    "lstm": {20: 60.81, 50: 1.85, 100: 0.0},
    "alstm": {20: 60.13, 50: 1.62, 100: 0.0},
    "fw-paper": {20: 1.81, 50: 0.0, 100: 0.0},
}
NAMES = {"fw-paper": "Fast weights (paper)", "fw-rnn": "Fast-weight RNN, gated read-out (fw-rnn)",
         "fw-lstm": "LSTM + fast-weight memory (package default)", "lstm": "LSTM", "irnn": "IRNN",
         "alstm": "A-LSTM"}  # fmt: skip
LONG_CORES = ("fw-paper", "fw-rnn", "fw-lstm", "lstm")


def run_one(core: str, hidden: int, seed: int, args: argparse.Namespace, inner_steps: int | None = None) -> dict:
    tag = f"{core}_R{hidden}_seed{seed}_steps{args.steps}_w{args.warmup}_{args.schedule}"
    tag += f"_S{inner_steps}" if inner_steps else ""
    cli = ["--core", core, "--hidden", str(hidden), "--seed", str(seed), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--schedule", args.schedule, "--time-limit", str(args.time_limit),
           "--threads", "1"]  # fmt: skip
    if inner_steps:
        cli += ["--inner-steps", str(inner_steps)]
    if args.quick:
        cli += ["--train-size", "5000"]
    return run_json("train.assoc", cli, OUT / "assoc" / f"{tag}.json", args.rerun)


def schedule_words(args: argparse.Namespace) -> str:
    """``"1,000 warm-up updates, cosine schedule"`` or ``"constant learning rate"``."""
    if args.schedule == "constant" and not args.warmup:
        return "constant learning rate"
    return f"{args.warmup:,} warm-up updates, {args.schedule} schedule"


def long_budget(args: argparse.Namespace) -> None:
    """The fast-weight cores and the LSTM at R = 20 for ``--long`` updates, with the warm-up and schedule."""
    jobs = [(core, seed) for core in LONG_CORES for seed in range(args.seeds)]
    tag = f"long{args.long}_w{args.warmup}_{args.schedule}"

    def run(job: tuple[str, int]) -> dict:
        core, seed = job
        cli = ["--core", core, "--hidden", "20", "--seed", str(seed), "--steps", str(args.long), "--warmup",
               str(args.warmup), "--schedule", args.schedule, "--time-limit", f"{args.time_limit:g}", "--threads",
               "1"]  # fmt: skip
        return run_json("train.assoc", cli, OUT / "assoc" / f"{core}_R20_seed{seed}_{tag}.json", args.rerun)

    with ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(jobs, pool.map(run, jobs), strict=True))
    lines = ["| model (R = 20) | test error % per seed | mean | seconds per run | paper |", "|---|---|---|---|---|"]
    for core in LONG_CORES:
        runs = [results[(core, seed)] for seed in range(args.seeds)]
        errors = [100 * r["test_error"] for r in runs]
        cells = ", ".join(f"{e:.2f}" for e in errors)
        seconds = statistics.mean(r["seconds"] for r in runs)
        paper = f"{PAPER[core][20]:.2f}" if core in PAPER else "—"
        lines.append(f"| {NAMES[core]} | {cells} | {statistics.mean(errors):.2f} | {seconds:.0f} | {paper} |")
    cut = time_limited({"long": list(results.values())})
    write_section(
        f"assoc-{tag}",
        results=RESULTS,
        body=f"## Associative retrieval at R = 20, {args.long:,} updates, {schedule_words(args)}\n\n"
        + "\n".join(lines)
        + "\n\n"
        f"`python benchmarks/assoc_table.py --long {args.long} --warmup {args.warmup} --schedule {args.schedule} "
        f"--seeds {args.seeds}`: {args.long:,} parameter updates per run (batch 128), learning rate 1e-3, "
        f"{schedule_words(args)}, one torch thread, otherwise as the table above. Runs cut short by the "
        f"{args.time_limit:g} s safety limit: {', '.join(cut) or 'none'}.",
    )


def seconds_line(results: dict) -> str:
    """Mean wall-clock seconds of a run per model and size, e.g. ``LSTM 61 / 90 / 160``."""
    cells = []
    for core in CORES:
        times = [statistics.mean(r["seconds"] for r in results[(core, size)]) for size in SIZES]
        cells.append(f"{NAMES[core]} {' / '.join(f'{t:.0f}' for t in times)}")
    return "; ".join(cells)


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
    parser.add_argument("--steps", type=int, default=20_000, help="parameter updates per run, every model")
    parser.add_argument("--time-limit", type=float, default=3600, help="safety net, seconds per run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="tiny data and budget: checks the pipeline")
    parser.add_argument("--rerun", action="store_true", help="ignore finished runs in benchmarks/results/assoc")
    parser.add_argument("--long", type=int, metavar="STEPS", help="only: fast weights and LSTM at R = 20, this budget")
    parser.add_argument("--warmup", type=int, default=1000, help="learning-rate warm-up updates")
    parser.add_argument("--schedule", choices=SCHEDULES, default="cosine", help="learning rate after the warm-up")
    args = parser.parse_args()
    if args.long:
        (OUT / "assoc").mkdir(parents=True, exist_ok=True)
        long_budget(args)
        return
    if args.quick:
        args.steps, args.warmup, args.time_limit, args.seeds = 30, 5, 60, 1
        OUT = Path(os.environ.get("TMPDIR", "/tmp")) / "fw_agents_assoc_quick"
        RESULTS = OUT / "RESULTS.md"
        args.rerun = True
    (OUT / "assoc").mkdir(parents=True, exist_ok=True)
    jobs = [(core, hidden, seed, None) for hidden in SIZES for core in CORES for seed in range(args.seeds)]
    jobs += [("fw-paper", 20, seed, steps) for steps in (2, 3) for seed in range(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        finished = list(pool.map(lambda job: run_one(*job[:3], args, job[3]), jobs))
    results: dict = {}
    for (core, hidden, _, steps), result in zip(jobs, finished, strict=True):
        results.setdefault((core, hidden) if steps is None else ("sweep", steps), []).append(result)
    sweep = {1: results[("fw-paper", 20)], 2: results[("sweep", 2)], 3: results[("sweep", 3)]}
    table = {key: runs for key, runs in results.items() if key[0] != "sweep"}
    png = OUT / "assoc_r20.png"
    plot(results, png)
    command = (f"python benchmarks/assoc_table.py --seeds {args.seeds} --steps {args.steps} --warmup {args.warmup} "
               f"--schedule {args.schedule}")  # fmt: skip
    cut = time_limited(results)
    budget = (
        f"`{command} --time-limit {args.time_limit:g}`"
        f" on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), one torch thread per run, "
        f"{args.jobs} runs at a time; seeds 0–{args.seeds - 1} (data splits and initialisation); every run "
        f"{args.steps:,} parameter updates (batch 128: {128 * args.steps / 100_000:g} epochs of the 100,000 "
        f"training sequences), Adam lr 1e-3, {schedule_words(args)}, gradient clipping 5, embedding 100, read-out "
        "ReLU layer of 100; "
        f"the model with the best validation error is tested. Seconds per run (mean over seeds, R = "
        f"{' / '.join(map(str, SIZES))}): {seconds_line(results)}. Runs cut short by the "
        f"{args.time_limit:g} s safety limit: {', '.join(cut) or 'none'}. The runs' wall clocks add up to "
        f"{run_minutes(results)}."
    )
    write_section(
        "assoc-table",
        results=RESULTS,
        body="## Associative retrieval (Table 1)\n\n"
        "Test error in % (ours: mean ± std over seeds; paper: Ba et al. 2016, "
        f"Table 1, the paper's numbers).\n\n{paper_table(results, CORES, NAMES, SIZES, PAPER, 'R')}\n\n"
        f"Per seed: {per_seed(table, NAMES, 'R')}.\n\n{budget}\n\n"
        f"Validation error during training at R = 20: ![assoc R=20]({png if args.quick else png.relative_to(ROOT)})",
    )
    write_section(
        "assoc-sweep",
        results=RESULTS,
        body="## Inner-loop steps S for fast weights (R = 20)\n\nWhy does the paper use S = 1? "
        f"Same budget as above:\n\n{sweep_table(sweep)}",
    )
    print(f"wrote {RESULTS} and {png}")


if __name__ == "__main__":
    main()
