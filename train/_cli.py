"""What every CLI here shares: clear messages and exit codes for bad input."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from fw_agents.errors import UsageError
from fw_agents.supervised.models import SCHEDULES, TrainResult, fit


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run ``main``; a :class:`UsageError` prints one line to stderr and exits 2 (no traceback);
    Ctrl-C that ``main`` did not handle itself exits 130 with one line."""
    try:
        return main(argv)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; running the same command again resumes", file=sys.stderr)
        return 130


def writable_file(path: Path, flag: str) -> Path:
    """``path``, after checking that a file can be written there (its folder is created); else one
    :class:`UsageError` naming the flag, before any work is done."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / f".{path.name}.probe"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise UsageError(f"{flag}: cannot write {path}: {err.strerror or err}") from err
    return path


def add_budget_args(p: argparse.ArgumentParser, epochs: float) -> None:
    """The training budget flags every supervised CLI shares."""
    p.add_argument("--steps", type=int, help="budget in parameter updates (compare models at equal steps)")
    p.add_argument("--epochs", type=float, help=f"budget in passes over the training set (default {epochs:g}, "
                   "unless --steps)")  # fmt: skip
    p.add_argument("--time-limit", type=float, help="safety net: stop after this many seconds (reported if hit)")
    p.add_argument("--warmup", type=int, default=0, help="updates of linear learning-rate warm-up")
    p.add_argument("--schedule", choices=SCHEDULES, default="constant", help="learning rate after the warm-up")
    p.set_defaults(default_epochs=epochs)


def budget(args: argparse.Namespace) -> dict[str, Any]:
    """``fit``'s budget arguments from :func:`add_budget_args`'s flags (one clear error if bad)."""
    if args.steps is not None and args.epochs is not None:
        raise UsageError("give --steps or --epochs, not both")
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {args.steps}")
    if args.epochs is not None and args.epochs <= 0:
        raise UsageError(f"--epochs must be positive, got {args.epochs}")
    if args.warmup < 0:
        raise UsageError(f"--warmup must be >= 0, got {args.warmup}")
    epochs = None if args.steps is not None else (args.epochs or args.default_epochs)
    return {"steps": args.steps, "epochs": epochs, "time_limit": args.time_limit, "warmup": args.warmup,
            "schedule": args.schedule}  # fmt: skip


def budget_line(result: TrainResult) -> str:
    """``"12,000 steps, 95 s"``, saying so when the time limit cut the budget short."""
    text = f"{result.steps:,} steps, {result.seconds:.0f} s"
    return text + (" — stopped by the time limit before its budget" if result.stopped_by_time else "")


def result_figures(plan: dict[str, Any], result: TrainResult) -> dict[str, Any]:
    """The budget asked for (``steps_budget``, ``epochs``, …) and what the run did, for ``--json``."""
    asked = {("steps_budget" if key == "steps" else key): value for key, value in plan.items()}
    return {**asked, "test_error": result.test_error, "best_valid_error": result.best_valid_error,
            "steps": result.steps, "stopped_by_time": result.stopped_by_time, "seconds": result.seconds,
            "curve": result.curve}  # fmt: skip


def fit_with_progress(model: torch.nn.Module, data: dict, desc: str, **fit_kwargs: Any) -> TrainResult:
    """``fw_agents.supervised.models.fit`` with a tqdm bar showing the validation error."""
    from tqdm import tqdm

    bar = tqdm(total=1, desc=desc, unit="step")

    def progress(step: int, total: int, err: float) -> None:
        bar.total = total
        bar.n = step
        bar.set_postfix(valid_error=f"{100 * err:.2f}%")
        bar.refresh()

    try:
        return fit(model, data["train"], data["valid"], data["test"], progress=progress, **fit_kwargs)
    finally:
        bar.close()


def write_json(path: Path, figures: dict) -> None:
    """Write ``figures`` as indented JSON, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2))
