"""Supervised sequence classifiers built on any registered core, and their training loop."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from fw_agents.cores import make_core


class SequenceClassifier(nn.Module):
    """Inputs → recurrent core → classifier read off the last step.

    ``tokens=True``: integer inputs (B, T) go through an embedding of ``embed_dim``; otherwise
    float inputs (B, T, F) go straight in. The read-out is a ReLU layer of ``readout_hidden``
    units and a linear layer to ``num_classes`` (``readout_hidden=0``: linear only).
    """

    def __init__(self, core: str, input_size: int, hidden_size: int, num_classes: int, *, tokens: bool,
                 embed_dim: int = 100, readout_hidden: int = 100, **core_kwargs: object) -> None:  # fmt: skip
        super().__init__()
        self.tokens = tokens
        self.embed = nn.Embedding(input_size, embed_dim) if tokens else None
        self.core = make_core(core, embed_dim if tokens else input_size, hidden_size, **core_kwargs)
        layers: list[nn.Module] = []
        width = hidden_size
        if readout_hidden:
            layers += [nn.Linear(hidden_size, readout_hidden), nn.ReLU()]
            width = readout_hidden
        layers.append(nn.Linear(width, num_classes))
        self.readout = nn.Sequential(*layers)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = self.embed(inputs) if self.embed is not None else inputs
        y, _ = self.core(x.transpose(0, 1).contiguous())  # (T, B, ·)
        return self.readout(y[-1])


@dataclass
class TrainResult:
    """Best validation error, the test error of that model, and the learning curve.

    ``steps`` counts parameter updates; ``stopped_by_time`` says the time limit ended the run
    before its budget of updates.
    """

    best_valid_error: float
    test_error: float
    steps: int
    seconds: float
    curve: list[tuple[int, float]] = field(default_factory=list)  # (step, validation error)
    stopped_by_time: bool = False


def error_rate(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, batch: int = 2000) -> float:
    model.eval()
    wrong = 0
    with torch.no_grad():
        for i in range(0, len(inputs), batch):
            wrong += int((model(inputs[i : i + batch]).argmax(1) != targets[i : i + batch]).sum())
    model.train()
    return wrong / len(inputs)


SCHEDULES = ("constant", "cosine")


def learning_rate_factor(total: int, warmup: int = 0, schedule: str = "constant") -> Callable[[int], float]:
    """The factor on the base learning rate at each update (for ``LambdaLR``): linear warm-up over
    ``warmup`` updates, then constant or a half cosine reaching 0 after ``total`` updates."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    valid: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: float | None = None,
    steps: int | None = None,
    batch_size: int = 128,
    lr: float = 1e-3,
    clip: float = 5.0,
    eval_every: int = 500,
    seed: int = 0,
    time_limit: float | None = None,
    warmup: int = 0,
    schedule: str = "constant",
    progress: Callable[[int, int, float], None] | None = None,
) -> TrainResult:
    """Adam with gradient clipping; keeps the parameters with the best validation error.

    The budget is ``steps`` parameter updates (models compared at equal steps), or ``epochs``
    passes over the training set; ``time_limit`` seconds is a safety net whose triggering the
    result reports. The test error is that of the best-on-validation parameters. The learning
    rate rises linearly from 0 over ``warmup`` updates, then stays (``schedule="constant"``) or
    follows a half cosine to 0 at the end of the budget (``"cosine"``).
    """
    if (epochs is None) == (steps is None):
        raise ValueError("give exactly one budget: epochs or steps")
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    inputs, targets = train
    steps_per_epoch = math.ceil(len(inputs) / batch_size)
    total = max(1, steps if steps is not None else int(epochs * steps_per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate_factor(total, warmup, schedule))
    best, best_state, curve = math.inf, copy.deepcopy(model.state_dict()), []
    start = time.perf_counter()
    step = 0
    while step < total:
        order = torch.randperm(len(inputs), generator=gen)
        for i in range(0, len(inputs), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(inputs[idx]), targets[idx])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            scheduler.step()
            step += 1
            out_of_time = time_limit is not None and time.perf_counter() - start > time_limit
            if step % eval_every == 0 or step == total or out_of_time:
                err = error_rate(model, *valid)
                curve.append((step, err))
                if err < best:
                    best, best_state = err, copy.deepcopy(model.state_dict())
                if progress:
                    progress(step, total, err)
            if step >= total or out_of_time:
                break
        if time_limit is not None and time.perf_counter() - start > time_limit:
            break
    model.load_state_dict(best_state)
    return TrainResult(best, error_rate(model, *test), step, time.perf_counter() - start, curve, step < total)
