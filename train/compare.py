"""Which memory core is best on my tasks? Train every core on every env, write a leaderboard.

    python -m train.compare --suite memory --out runs/suite_memory            # the project's suite
    python -m train.compare --suite memory --out /tmp/suite_quick --quick     # the pipeline, in minutes
    python -m train.compare --envs MemoryCatch DelayedRecall-L30 --cores fw lstm --seeds 3 --out runs/mine
    python -m train.compare --suite memory --out runs/suite_memory --report-only

Runs are ordinary run folders (DIR/runs/<env>_<core>_seed<k>) trained by train.ppo through the
sweep machinery: --jobs parallel processes with one torch thread each, or Ray tasks (--ray).
Finished runs are skipped and interrupted ones resume, so re-running the command fills gaps.
Every core gets the same PPO settings on an env: hyperparams.yml's sections for that env, then
the suite's overrides for the env, then --hyperparams.

Writes DIR/leaderboard.md, DIR/leaderboard.csv and DIR/curves.png (scores and the normalised
score are defined in fw_agents/compare.py and the README). Exit code 1 if a run failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fw_agents.compare import Suite, check, check_budgets, collect, jobs, load_suite, parse_env, write_leaderboard
from fw_agents.config import parse_key_values
from fw_agents.errors import UsageError
from fw_agents.sweep import run_jobs
from train._cli import run_cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--suite", help="a suite name (fw_agents/suites/NAME.yml) or a path to a suite YAML file")
    source.add_argument("--envs", nargs="+", metavar="ID", help="envs to compare (short names or Gymnasium ids)")
    p.add_argument("--cores", nargs="+", help="cores to compare (default: the suite's, else fw lstm gru)")
    p.add_argument("--seeds", type=int, help="number of seeds, 0..N-1 (default: the suite's, else 3)")
    p.add_argument("--timesteps", type=int, help="env steps per run for every env (default: the suite's budgets)")
    p.add_argument("--hyperparams", nargs="*", action="extend", metavar="KEY:VALUE",
                   help="overrides for every run, after the suite's")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="folder for the runs and the leaderboard")
    p.add_argument("--jobs", type=int, default=2, help="parallel local runs (default 2)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--ray", metavar="ADDRESS", help="run on Ray: a cluster address, 'auto', or 'local'")
    p.add_argument("--quick", action="store_true", help="tiny budgets and one seed: checks the pipeline")
    p.add_argument("--report-only", action="store_true", help="write the leaderboard from the runs there are")
    return p


def build_suite(args: argparse.Namespace) -> Suite:
    if args.suite:
        suite = load_suite(args.suite)
    else:
        suite = Suite(name="custom", envs=[parse_env(e, "--envs") for e in args.envs], cores=["fw", "lstm", "gru"],
                      seeds=[0, 1, 2])  # fmt: skip
    if args.cores:
        suite.cores = list(args.cores)
    if args.seeds is not None:
        if args.seeds < 1:
            raise UsageError(f"--seeds must be >= 1, got {args.seeds}")
        suite.seeds = list(range(args.seeds))
    if args.timesteps is not None:
        if args.timesteps < 1:
            raise UsageError(f"--timesteps must be >= 1, got {args.timesteps}")
        for env in suite.envs:
            env.timesteps = args.timesteps
    if args.quick and args.seeds is None:
        suite.seeds = [0]
    check(suite)
    return suite


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    suite = build_suite(args)
    overrides = parse_key_values(args.hyperparams, "--hyperparams")
    runs_dir = args.out / "runs"
    failed: list[str] = []
    if not args.report_only:
        check_budgets(suite, runs_dir, args.quick)
        grid = jobs(suite, runs_dir, quick=args.quick, threads=args.threads, hyperparams=overrides)
        print(f"suite {suite.name}: {len(suite.envs)} envs × {len(suite.cores)} cores × {len(suite.seeds)} seeds "
              f"= {len(grid)} runs -> {runs_dir}", flush=True)  # fmt: skip
        done = [0]

        def progress(message: str) -> None:
            done[0] += 1
            print(f"[{done[0]}/{len(grid)}] {message}", flush=True)

        failed = run_jobs(grid, args.jobs, args.ray, log=progress)
    rows = collect(suite, runs_dir)
    if not rows:
        raise UsageError(f"no evaluated runs in {runs_dir} to make a leaderboard from")
    for path in write_leaderboard(rows, suite, args.out):
        print(f"wrote {path}")
    print((args.out / "leaderboard.md").read_text().split("\n\n", 2)[2].split("\n\n")[0])
    if failed:
        print(f"{len(failed)} runs failed: {', '.join(failed)} (logs in {runs_dir})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
