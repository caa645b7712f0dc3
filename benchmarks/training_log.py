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
import csv
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fw_agents.errors import UsageError

SCALARS = {"entropy": "train/entropy_loss", "ent_coef": "train/ent_coef"}


def episodes(run: Path) -> dict[str, np.ndarray]:
    """The run's training episodes in the order they ended: reward ``r``, length ``l`` and
    ``steps``, the env steps taken by all the episodes ended so far."""
    files = sorted((run / "monitor").glob("*.monitor.csv"))
    if not files:
        raise UsageError(f"{run} has no monitor/*.monitor.csv: not a training run folder")
    rows = []
    for path in files:
        with path.open() as handle:
            next(handle)  # the Monitor's JSON header line
            rows += [(float(row["r"]), int(row["l"]), float(row["t"])) for row in csv.DictReader(handle)]
    rows.sort(key=lambda row: row[2])  # stable: ties keep file order
    rewards = np.array([row[0] for row in rows])
    lengths = np.array([row[1] for row in rows], dtype=np.int64)
    return {"r": rewards, "l": lengths, "steps": np.cumsum(lengths)}


def logged(run: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The PPO scalars of :data:`SCALARS` the run logged: (env steps, values) per name."""
    found: dict[str, list[tuple[int, float]]] = {}
    for folder in sorted((run / "tb").glob("*")):
        events = EventAccumulator(str(folder))
        events.Reload()
        tags = events.Tags()["scalars"]
        for name, tag in SCALARS.items():
            if tag in tags:
                found.setdefault(name, []).extend((p.step, p.value) for p in events.Scalars(tag))
    series = {
        name: (np.array([s for s, _ in points]), np.array([v for _, v in points])) for name, points in found.items()
    }
    if "entropy" in series:
        steps, values = series["entropy"]
        series["entropy"] = (steps, -values)
    return series


def table(run: Path, bin_steps: int) -> dict[str, list[float]]:
    """Columns of one row per bin of ``bin_steps`` env steps holding an episode's end (``bin``: its
    first step): ``episodes``, ``success``, ``length``, and each logged scalar's mean in the bin
    (NaN where none was logged there)."""

    def bin_of(steps: np.ndarray) -> np.ndarray:
        return (steps - 1) // bin_steps * bin_steps

    ended = episodes(run)
    bins = bin_of(ended["steps"])
    scalars = {name: (bin_of(steps), values) for name, (steps, values) in logged(run).items()}
    columns: dict[str, list[float]] = {name: [] for name in ("bin", "episodes", "success", "length", *scalars)}
    for start in np.unique(bins):
        inside = bins == start
        columns["bin"].append(int(start))
        columns["episodes"].append(int(inside.sum()))
        columns["success"].append(float(np.mean(ended["r"][inside] > 0)))
        columns["length"].append(float(np.mean(ended["l"][inside])))
        for name, (scalar_bins, values) in scalars.items():
            here = scalar_bins == start
            columns[name].append(float(np.mean(values[here])) if here.any() else float("nan"))
    return columns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--bin", type=int, default=50_000, help="env steps per row (default 50000)")
    args = parser.parse_args()
    if args.bin < 1:
        parser.error(f"--bin must be a positive number of env steps, got {args.bin}")
    for run in args.runs:
        try:
            columns = table(run, args.bin)
        except UsageError as err:
            parser.exit(2, f"error: {err}\n")
        names = list(columns)
        print(f"\n{run}")
        print("| " + " | ".join(names) + " |")
        print("|" + "---|" * len(names))
        for i in range(len(columns["bin"])):
            cells = [f"{columns[n][i]:.3f}" if isinstance(columns[n][i], float) else str(columns[n][i]) for n in names]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
