"""The project's leaderboard: the memory suite through train.compare, published in RESULTS.md.

    python benchmarks/memory_suite.py                  # runs what is missing (~2.5 h on 2 cores), then publishes
    python benchmarks/memory_suite.py --report-only    # publishes from the runs already there
    python benchmarks/memory_suite.py --quick          # the pipeline, printed, nothing published

Runs ``python -m train.compare --suite memory --out runs/suite_memory`` (finished runs are skipped),
then writes its leaderboard into the ``memory-suite`` section of RESULTS.md and its curve grid to
``benchmarks/results/memory_suite.png``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
from pathlib import Path

from _common import ROOT, report

from train import compare
from train._cli import run_cli

OUT = ROOT / "runs" / "suite_memory"
PNG = ROOT / "benchmarks" / "results" / "memory_suite.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report-only", action="store_true", help="publish from the runs already there")
    parser.add_argument("--quick", action="store_true", help="tiny budgets, one seed, in a temporary folder")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "fw_agents_suite_quick" if args.quick else OUT
    argv = ["--suite", "memory", "--out", str(out), "--jobs", str(args.jobs)]
    argv += ["--quick"] * args.quick + ["--report-only"] * args.report_only
    code = run_cli(compare.main, argv)
    if code == 2:
        sys.exit(code)
    board = (out / "leaderboard.md").read_text().split("\n", 2)[2].strip()
    if not args.quick:
        PNG.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "curves.png", PNG)
    body = (
        "## The memory suite: every core on every memory task\n\n"
        f"`python -m train.compare --suite memory --out runs/suite_memory` (via `python benchmarks/memory_suite.py`) "
        f"on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), two runs at a time with one "
        "torch thread each; budgets, scores and references in `fw_agents/suites/memory.yml`; PPO settings per env from "
        "`fw_agents/hyperparams.yml`, identical for every core. Wall seconds per run were measured with two runs "
        "sharing the machine.\n\n"
        f"{board}\n\n![learning curves of the memory suite](benchmarks/results/{PNG.name})"
    )
    report(body, "memory-suite", args.quick)
    sys.exit(code)


if __name__ == "__main__":
    main()
