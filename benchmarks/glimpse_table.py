"""Table 2 of Ba et al. (2016): classification error from multi-level glimpses by hidden size.

    python benchmarks/glimpse_table.py                          # sklearn digits (no files needed)
    python benchmarks/glimpse_table.py --mnist-dir ~/data/mnist # real MNIST, comparable with the paper
    python benchmarks/glimpse_table.py --quick                  # pipeline check

Cores fw, lstm, irnn and the ConvNet reference at hidden sizes 50, 100, 200, ``--seeds``
seeds each, ``--epochs`` epochs or ``--time-limit`` seconds per run, in parallel processes.
Writes ``benchmarks/results/glimpses/*.json`` and a table into RESULTS.md beside the paper's.
Without ``--mnist-dir`` the data is scikit-learn's upscaled 8×8 digits, and the table says
plainly that those numbers are not comparable with the paper's MNIST numbers.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import ROOT, paper_table, report, run_json

OUT = ROOT / "benchmarks" / "results" / "glimpses"
MODELS = ["fw-paper", "lstm", "irnn", "convnet"]
SIZES = [50, 100, 200]
# Table 2 of the paper: MNIST test error in % — the paper's numbers.
PAPER = {
    "irnn": [12.95, 1.95, 1.42],
    "lstm": [12.00, 1.55, 1.10],
    "convnet": [1.81, 1.00, 0.90],
    "fw-paper": [7.21, 1.30, 0.85],
}
NAMES = {"fw-paper": "Fast weights (paper)", "lstm": "LSTM", "irnn": "IRNN", "convnet": "ConvNet"}


def run_one(model: str, hidden: int, seed: int, args: argparse.Namespace, out_dir: Path) -> dict:
    cli = ["--core", model, "--hidden", str(hidden), "--seed", str(seed), "--epochs", str(args.epochs),
           "--time-limit", str(args.time_limit), "--threads", "1"]  # fmt: skip
    if args.mnist_dir:
        cli += ["--mnist-dir", str(args.mnist_dir)]
    return run_json("train.glimpses", cli, out_dir / f"{model}_H{hidden}_seed{seed}.json", args.rerun)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist-dir", type=Path)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=float, default=40)
    parser.add_argument("--time-limit", type=float, default=120)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rerun", action="store_true")
    args = parser.parse_args()
    out_dir = OUT / ("mnist" if args.mnist_dir else "digits")
    if args.quick:
        args.epochs, args.time_limit, args.seeds, args.rerun = 1, 10, 1, True
        out_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "fw_agents_glimpses_quick"
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(model, hidden, seed) for hidden in SIZES for model in MODELS for seed in range(args.seeds)]
    start = time.time()
    with ThreadPoolExecutor(args.jobs) as pool:
        finished = list(pool.map(lambda job: run_one(*job, args, out_dir), jobs))
    results: dict = {}
    for (model, hidden, _), result in zip(jobs, finished, strict=True):
        results.setdefault((model, hidden), []).append(result)
    dataset = "MNIST" if args.mnist_dir else "scikit-learn digits upscaled to 28×28"
    caveat = (
        ""
        if args.mnist_dir
        else "\n\n**Not comparable with the paper**: these runs use scikit-learn's 1,797 bundled 8×8 digits "
        "(upscaled; 1,297 train / 200 validation / 300 test), not MNIST. Run with `--mnist-dir` for the real table."
    )
    body = (
        f"## Multi-level glimpses (Table 2), {dataset}\n\nTest error in % (ours: mean ± std over seeds 0–"
        f"{args.seeds - 1}; paper: Ba et al. 2016, Table 2, MNIST — the paper's numbers).\n\n"
        + paper_table(results, MODELS, NAMES, SIZES, PAPER, "H")
        + f"{caveat}\n\n`python benchmarks/glimpse_table.py{' --mnist-dir DIR' if args.mnist_dir else ''} "
        f"--seeds {args.seeds} --epochs {args.epochs:g} --time-limit {args.time_limit:g}` on {os.cpu_count()} CPU "
        f"cores, one torch thread per run, {args.jobs} at a time, Adam lr 1e-3, batch 128; best-on-validation model "
        f"tested; 24 glimpses per image (schedule in `fw_agents/supervised/glimpses.py`). "
        f"Wall clock: {(time.time() - start) / 60:.0f} min."
    )  # fmt: skip
    report(body, "glimpse-table-mnist" if args.mnist_dir else "glimpse-table-digits", args.quick)


if __name__ == "__main__":
    main()
