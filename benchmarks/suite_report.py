"""A suite's leaderboard through train.compare, published in RESULTS.md.

    python benchmarks/suite_report.py --suite memory         # runs what is missing (~1.3 h on 2 cores), publishes
    python benchmarks/suite_report.py --suite minigrid       # the MiniGrid suite (~49M env steps: several sessions)
    python benchmarks/suite_report.py --suite memory --report-only   # publishes from the runs already there
    python benchmarks/suite_report.py --suite memory --quick         # the pipeline, printed, nothing published

Runs ``python -m train.compare --suite NAME --out benchmarks/results/suite_NAME`` (finished runs are
skipped: a run's config.yml, summary.json and eval/evaluations.npz are committed, its models and
logs are not), then writes the leaderboard into the ``NAME-suite`` section of RESULTS.md and its
curve grid to ``benchmarks/results/NAME_suite.png``.
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

TITLES = {
    "memory": "The memory suite: every core on every memory task",
    "minigrid": "The MiniGrid suite",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=sorted(TITLES), required=True)
    parser.add_argument("--report-only", action="store_true", help="publish from the runs already there")
    parser.add_argument("--quick", action="store_true", help="tiny budgets, one seed, in a temporary folder")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    folder = f"benchmarks/results/suite_{args.suite}"
    quick_out = Path(os.environ.get("TMPDIR", "/tmp")) / f"fw_agents_suite_{args.suite}_quick"
    out = quick_out if args.quick else ROOT / folder
    argv = ["--suite", args.suite, "--out", str(out), "--jobs", str(args.jobs)]
    argv += ["--quick"] * args.quick + ["--report-only"] * args.report_only
    code = run_cli(compare.main, argv)
    if code == 2:
        sys.exit(code)
    board = (out / "leaderboard.md").read_text().split("\n", 2)[2].strip()
    png = ROOT / "benchmarks" / "results" / f"{args.suite}_suite.png"
    if not args.quick:
        shutil.copyfile(out / "curves.png", png)
    body = (
        f"## {TITLES[args.suite]}\n\n"
        f"`python -m train.compare --suite {args.suite} --out {folder}` (via `python benchmarks/suite_report.py "
        f"--suite {args.suite}`) on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        "two runs at a time with one torch thread each; budgets, scores and references in "
        f"`fw_agents/suites/{args.suite}.yml`; "
        "PPO settings per env from `fw_agents/hyperparams.yml`, identical for every core. Wall seconds per run were "
        "measured with two runs sharing the machine.\n\n"
        f"{board}\n\n![learning curves of the {args.suite} suite](benchmarks/results/{png.name})"
    )
    report(body, f"{args.suite}-suite", args.quick)
    sys.exit(code)


if __name__ == "__main__":
    main()
