"""What a run's training episodes did, per bin of env steps: success, length, policy entropy.

    python benchmarks/training_log.py RUN [RUN ...] [--bin 50000]

For each run folder: the training episodes (the run's ``monitor/*.csv``, every env, in the order
they ended; each placed at the env steps of all the episodes ended before it and itself) binned by
env steps — how many ended, the share that succeeded (reward > 0, MiniGrid's success), their mean
length — beside what PPO logged to the run's TensorBoard folder in the same steps: the policy's
entropy in its updates (``-train/entropy_loss``, in nats; uniform over n actions is ln n) and, when
it moves, the entropy coefficient (``train/ent_coef``). It tells a policy that learns slowly from
one that does not move at all: a policy held at uniform by its entropy bonus shows the entropy at
ln n bin after bin, with successes at what random actions reach. Printed only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fw_agents.errors import UsageError

SCALARS = {"entropy": "train/entropy_loss", "ent_coef": "train/ent_coef"}


def episodes(run: Path) -> pd.DataFrame:
    """The run's training episodes (reward ``r``, length ``l``, wall time ``t``) in the order
    they ended, with ``steps``: the env steps taken by all the episodes ended so far."""
    files = sorted((run / "monitor").glob("*.monitor.csv"))
    if not files:
        raise UsageError(f"{run} has no monitor/*.monitor.csv: not a training run folder")
    frame = pd.concat([pd.read_csv(f, skiprows=1) for f in files]).sort_values("t", kind="stable")
    frame["steps"] = frame["l"].cumsum()
    return frame


def logged(run: Path) -> dict[str, pd.Series]:
    """The PPO scalars of :data:`SCALARS` the run logged, indexed by env step."""
    found: dict[str, pd.Series] = {}
    for folder in sorted((run / "tb").glob("*")):
        events = EventAccumulator(str(folder))
        events.Reload()
        tags = events.Tags()["scalars"]
        for name, tag in SCALARS.items():
            if tag in tags:
                points = events.Scalars(tag)
                series = pd.Series([p.value for p in points], index=[p.step for p in points])
                found[name] = pd.concat([found[name], series]) if name in found else series
    if "entropy" in found:
        found["entropy"] = -found["entropy"]
    return found


def table(run: Path, bin_steps: int) -> pd.DataFrame:
    """One row per bin of ``bin_steps`` env steps (labelled by its first step)."""
    frame = episodes(run)
    frame["bin"] = (frame["steps"] - 1) // bin_steps * bin_steps
    rows = frame.groupby("bin").agg(
        episodes=("r", "size"), success=("r", lambda r: float(np.mean(r > 0))), length=("l", "mean")
    )
    for name, series in logged(run).items():
        rows[name] = series.groupby((series.index - 1) // bin_steps * bin_steps).mean()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--bin", type=int, default=50_000, help="env steps per row (default 50000)")
    args = parser.parse_args()
    if args.bin < 1:
        parser.error(f"--bin must be a positive number of env steps, got {args.bin}")
    for run in args.runs:
        try:
            rows = table(run, args.bin)
        except UsageError as err:
            parser.exit(2, f"error: {err}\n")
        print(f"\n{run}")
        print(rows.to_string(float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
