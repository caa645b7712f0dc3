"""Classify digits from multi-level glimpses with a recurrent core (the paper's Table 2 task).

    python -m train.glimpses --core fw --hidden 50                      # sklearn digits, no files needed
    python -m train.glimpses --core fw --hidden 100 --data-dir ~/data/mnist
    python -m train.glimpses --core lstm --hidden 100 --dataset Fashion-MNIST --steps 20000
    python -m train.glimpses --core convnet --hidden 100 --data-dir ~/data/mnist   # feed-forward reference

--data-dir reads any 28×28 data set in MNIST's IDX format (--mnist-dir is its old name);
--dataset names it (default: MNIST or Fashion-MNIST recognised from the images, else "IDX data
set in DIR"); --dataset Fashion-MNIST alone reads Debian's /usr/share/datasets/fashion-mnist
(apt-get install dataset-fashion-mnist). Every printed line names the data set used. Without a
folder the data is scikit-learn's bundled 8×8 digits upscaled to 28×28: a different, smaller
data set whose errors are NOT comparable with the paper's MNIST table. The glimpse schedule is
in fw_agents/supervised/glimpses.py.
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
from train._cli import add_budget_args, budget, budget_line, fit_with_progress, result_figures, run_cli, write_json

GLIMPSE_CORES = ("fw", "fw-rnn", "fw-paper", "lstm", "irnn", "gru", "alstm")


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
        "--core", default="fw", help="fw, fw-rnn, fw-paper, lstm, irnn, gru, alstm, or convnet (feed-forward reference)"
    )
    p.add_argument("--hidden", type=int, default=50, help="recurrent units (ConvNet: fully connected units)")
    p.add_argument("--data-dir", "--mnist-dir", dest="data_dir", type=Path,
                   help="folder with the four IDX files of MNIST's format (.gz or not)")  # fmt: skip
    p.add_argument("--dataset", help="the data set's name, e.g. MNIST, Fashion-MNIST (default: recognised)")
    add_budget_args(p, epochs=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int)
    p.add_argument("--json", type=Path)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.core != "convnet" and (args.core not in available_cores() or args.core not in GLIMPSE_CORES):
        raise UsageError(f"unknown core {args.core!r}; choose from {', '.join((*GLIMPSE_CORES, 'convnet'))}")
    if args.hidden < 1:
        raise UsageError("--hidden must be positive")
    plan = budget(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        data, dataset = glimpses.load_dataset(args.data_dir, args.dataset, args.seed)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(f"data: {err}") from err
    torch.manual_seed(args.seed)
    if args.core == "convnet":
        model = glimpses.ConvNet(args.hidden)
    else:
        model = GlimpseModel(args.core, args.hidden)
    eval_every = max(1, len(data["train"][0]) // args.batch_size)
    result = fit_with_progress(model, data, f"{args.core} H={args.hidden} {dataset}", batch_size=args.batch_size,
                               lr=args.lr, seed=args.seed, eval_every=eval_every, **plan)  # fmt: skip
    print(
        f"{args.core} hidden={args.hidden} on {dataset}: test error {100 * result.test_error:.2f}% "
        f"(best validation {100 * result.best_valid_error:.2f}%, {budget_line(result)})"
    )
    if args.json:
        write_json(args.json, {"core": args.core, "hidden": args.hidden, "dataset": dataset, "seed": args.seed,
                               **result_figures(plan, result)})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
