"""What every CLI here shares: clear messages and exit codes for bad input."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from fw_agents.errors import UsageError
from fw_agents.supervised.models import TrainResult, fit


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run ``main``; a :class:`UsageError` prints one line to stderr and exits 2 (no traceback)."""
    try:
        return main(argv)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


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
