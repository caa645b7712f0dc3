"""A core without memory: the reference that tells what a task needs memory for.

``ff`` maps each step's input alone to its output, y(t) = ReLU(W x(t) + b) per layer, and
carries nothing from one step to the next. Trained with the same PPO settings as the recurrent
cores, its score on a task is the measured *memoryless* reference of a suite: what a policy
that sees only the current observation reaches.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from fw_agents.cores.base import RecurrentCore, State, _check_dropout, register_core


@register_core("ff")
class FeedForwardCore(RecurrentCore):
    """``num_layers`` ReLU layers of ``hidden_size`` units applied to every step on its own.

    The state is one float per layer that stays zero (RecurrentPPO's buffers need a state to
    store); episode starts change nothing, since nothing is remembered.
    """

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__(input_size, hidden_size, num_layers)
        _check_dropout(dropout)
        self.dropout = float(dropout)
        sizes = [input_size] + [hidden_size] * num_layers
        layers: list[nn.Module] = []
        for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            if layer > 0 and self.dropout:
                layers.append(nn.Dropout(self.dropout))
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        self.net = nn.Sequential(*layers)

    def settings(self) -> dict[str, object]:
        """Every constructor option but the sizes (see :meth:`RecurrentCore.settings`)."""
        return {"dropout": self.dropout}

    def state_shapes(self) -> list[tuple[int, ...]]:
        return [(self.num_layers, 1)]

    def _forward(
        self, x: torch.Tensor, state: State, episode_starts: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        return self.net(x), (torch.zeros_like(state[0]),)
