"""Run a grid of training runs (envs × cores × seeds × variants) from a YAML sweep file.

    python -m train.sweep benchmarks/sweeps/catch.yml              # parallel local processes
    python -m train.sweep sweep.yml --ray auto                     # on a running Ray cluster
    python -m train.sweep sweep.yml --dry-run                      # print the commands

The file's format is in fw_agents/sweep.py. Results are ordinary run folders (train.plot
reads them); finished runs are skipped, interrupted ones resume. Exit code 1 if a run failed.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fw_agents.sweep import expand, load_sweep, run_jobs
from train._cli import run_cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.sweep", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("config", type=Path, help="sweep YAML file")
    p.add_argument("--jobs", type=int, help="parallel local processes (default: the file's 'jobs', else 1)")
    p.add_argument("--ray", metavar="ADDRESS", help="run on Ray: a cluster address, 'auto', or 'local'")
    p.add_argument("--dry-run", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = load_sweep(args.config)
    jobs = expand(config)
    if args.dry_run:
        for job in jobs:
            print(shlex.join(job.command()))
        return 0
    print(f"{len(jobs)} runs -> {config.get('log_folder', 'runs/sweep')}")
    failed = run_jobs(jobs, args.jobs or int(config.get("jobs", 1)), args.ray)
    if failed:
        print(f"{len(failed)} of {len(jobs)} runs failed: {', '.join(failed)} (logs beside the run folders)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
