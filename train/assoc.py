"""Train a core on the paper's associative retrieval task and report its test error.

    python -m train.assoc --core fw --hidden 20                 # fast weights, R = 20
    python -m train.assoc --core lstm --hidden 50 --epochs 20 --json lstm50.json
    python -m train.assoc --core fw --hidden 20 --steps 20000 --warmup 500 --schedule cosine
    python -m train.assoc --core fw-paper --hidden 20 --inner-steps 2 --num-pairs 8

The best model on the validation split is kept; its test error is reported (in %).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from fw_agents.cores import available_cores
from fw_agents.errors import UsageError
from fw_agents.policies import RNN_FW_CORES
from fw_agents.supervised import assoc
from fw_agents.supervised.models import SequenceClassifier
from train._cli import add_budget_args, budget, budget_line, fit_with_progress, result_figures, run_cli, write_json


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.assoc", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--core", default="fw", help=f"one of {', '.join(available_cores())}")
    p.add_argument("--hidden", type=int, default=20, help="R, recurrent units")
    p.add_argument("--num-pairs", type=int, default=4, help="K key-value pairs per sequence")
    add_budget_args(p, epochs=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0, help="seeds the data splits and the model")
    p.add_argument("--train-size", type=int, default=assoc.SPLITS["train"])
    p.add_argument("--inner-steps", type=int, help="fw-rnn / fw-paper: S")
    p.add_argument("--decay", type=float, help="fw-rnn / fw-paper: λ")
    p.add_argument("--fast-lr", type=float, help="fw-rnn / fw-paper: η")
    p.add_argument("--threads", type=int, help="torch threads")
    p.add_argument("--json", type=Path, help="write the figures and the learning curve here")
    return p


def core_kwargs(args: argparse.Namespace) -> dict:
    options = {"inner_steps": args.inner_steps, "decay": args.decay, "fast_lr": args.fast_lr}
    options = {k: v for k, v in options.items() if v is not None}
    if options and args.core not in RNN_FW_CORES:
        raise UsageError(
            f"{', '.join('--' + k.replace('_', '-') for k in options)} only apply to --core fw-rnn or fw-paper"
            " (Ba et al.'s fast-weight RNN)"
        )
    return options


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.core not in available_cores():
        raise UsageError(f"unknown core {args.core!r}; known: {', '.join(available_cores())}")
    if args.hidden < 1 or args.train_size < 1:
        raise UsageError("--hidden and --train-size must be positive")
    plan = budget(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        data = {
            name: assoc.to_tensors(
                *assoc.split(name, args.num_pairs, args.seed, args.train_size if name == "train" else None)
            )
            for name in assoc.SPLITS
        }
        torch.manual_seed(args.seed)
        model = SequenceClassifier(args.core, len(assoc.VOCAB), args.hidden, 10, tokens=True, **core_kwargs(args))
    except ValueError as err:
        raise UsageError(str(err)) from err
    result = fit_with_progress(model, data, f"{args.core} R={args.hidden}", batch_size=args.batch_size, lr=args.lr,
                               seed=args.seed, **plan)  # fmt: skip
    print(
        f"{args.core} R={args.hidden} K={args.num_pairs} seed={args.seed}: test error {100 * result.test_error:.2f}% "
        f"(best validation {100 * result.best_valid_error:.2f}%, {budget_line(result)})"
    )
    if args.json:
        figures = {"core": args.core, "hidden": args.hidden, "num_pairs": args.num_pairs, "seed": args.seed,
                   **result_figures(plan, result), **core_kwargs(args)}  # fmt: skip
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
