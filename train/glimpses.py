"""Classify digits from multi-level glimpses with a recurrent core (the paper's Table 2 task).

    python -m train.glimpses --core fw --hidden 50                      # sklearn digits, no files needed
    python -m train.glimpses --core fw --hidden 100 --mnist-dir ~/data/mnist
    python -m train.glimpses --core convnet --hidden 100 --mnist-dir ~/data/mnist   # feed-forward reference

Without --mnist-dir the data is scikit-learn's bundled 8×8 digits upscaled to 28×28: a
different, smaller data set whose errors are NOT comparable with the paper's MNIST table.
The glimpse schedule is in fw_agents/supervised/glimpses.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from fw_agents.cores import available_cores
from fw_agents.errors import UsageError
from fw_agents.supervised import glimpses
from fw_agents.supervised.models import SequenceClassifier
from train._cli import fit_with_progress, run_cli, write_json

GLIMPSE_CORES = ("fw", "fw-paper", "lstm", "irnn", "gru", "alstm")


class GlimpseModel(torch.nn.Module):
    """Images → 24 glimpses → recurrent core → class."""

    def __init__(self, core: str, hidden: int, **core_kwargs: object) -> None:
        super().__init__()
        self.classifier = SequenceClassifier(core, glimpses.FEATURES, hidden, 10, tokens=False, **core_kwargs)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(glimpses.glimpse_sequence(images))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.glimpses", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument(
        "--core", default="fw", help="fw, fw-paper, lstm, irnn, gru, alstm, or convnet (feed-forward reference)"
    )
    p.add_argument("--hidden", type=int, default=50, help="recurrent units (ConvNet: fully connected units)")
    p.add_argument("--mnist-dir", type=Path, help="folder with the four MNIST IDX files (.gz or not)")
    p.add_argument("--epochs", type=float, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float, help="stop training after this many seconds")
    p.add_argument("--threads", type=int)
    p.add_argument("--json", type=Path)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.core != "convnet" and (args.core not in available_cores() or args.core not in GLIMPSE_CORES):
        raise UsageError(f"unknown core {args.core!r}; choose from {', '.join((*GLIMPSE_CORES, 'convnet'))}")
    if args.hidden < 1 or args.epochs <= 0:
        raise UsageError("--hidden and --epochs must be positive")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.mnist_dir is not None:
        try:
            data = glimpses.load_mnist(args.mnist_dir.expanduser())
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(f"--mnist-dir: {err}") from err
        dataset = "MNIST"
    else:
        data = glimpses.load_digits_upscaled(args.seed)
        dataset = "sklearn digits upscaled (not comparable with MNIST)"
    torch.manual_seed(args.seed)
    if args.core == "convnet":
        model = glimpses.ConvNet(args.hidden)
    else:
        model = GlimpseModel(args.core, args.hidden)
    eval_every = max(1, len(data["train"][0]) // args.batch_size)
    result = fit_with_progress(model, data, f"{args.core} H={args.hidden}", epochs=args.epochs,
                               batch_size=args.batch_size, lr=args.lr, seed=args.seed, eval_every=eval_every,
                               time_limit=args.time_limit)  # fmt: skip
    print(
        f"{args.core} hidden={args.hidden} on {dataset}: test error {100 * result.test_error:.2f}% "
        f"(best validation {100 * result.best_valid_error:.2f}%, {result.steps} steps, {result.seconds:.0f} s)"
    )
    if args.json:
        write_json(args.json, {"core": args.core, "hidden": args.hidden, "dataset": dataset, "seed": args.seed,
                               "epochs": args.epochs, "test_error": result.test_error,
                               "best_valid_error": result.best_valid_error, "steps": result.steps,
                               "seconds": result.seconds, "curve": result.curve})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
