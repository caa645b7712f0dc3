"""Baseline cores that wrap torch's fused recurrent kernels: LSTM, GRU and IRNN.

Each runs one fused kernel call per stretch of time in which no example restarts
(:func:`run_in_segments`), so resets cost one extra call per distinct start time, not a
Python step per time step.
"""

from __future__ import annotations

import torch
from torch import nn

from fw_agents.cores.base import (
    RecurrentCore,
    State,
    _check_dropout,
    register_core,
    run_in_segments,
    run_rnn,
    set_forget_bias,
)


class _TorchRNNCore(RecurrentCore):
    """Shared plumbing: ``self.rnn`` is a torch RNN module; its state tuple is our state."""

    rnn: nn.RNNBase
    n_state_tensors = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__(input_size, hidden_size, num_layers)
        _check_dropout(dropout)

    def state_shapes(self) -> list[tuple[int, ...]]:
        return [(self.num_layers, self.hidden_size)] * self.n_state_tensors

    def _forward(
        self, x: torch.Tensor, state: State, episode_starts: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        def step(x_seg: torch.Tensor, st: State) -> tuple[torch.Tensor, State]:
            y, new = run_rnn(self.rnn, x_seg, st if self.n_state_tensors > 1 else st[0])
            return y, tuple(new) if self.n_state_tensors > 1 else (new,)

        return run_in_segments(step, x, state, episode_starts)


@register_core("lstm")
class LSTMCore(_TorchRNNCore):
    """``torch.nn.LSTM`` behind the core interface; state ``(h, c)``, each (L, B, H).

    ``forget_bias`` starts every layer's forget gate at that bias (default ``None``: torch's init);
    see :func:`~fw_agents.cores.base.set_forget_bias`.
    """

    n_state_tensors = 2

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1, dropout: float = 0.0,
                 forget_bias: float | None = None, **lstm_kwargs: object) -> None:  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, dropout)
        self.rnn = nn.LSTM(input_size, hidden_size, num_layers=num_layers, dropout=dropout, **lstm_kwargs)
        set_forget_bias(self.rnn, forget_bias)


@register_core("gru")
class GRUCore(_TorchRNNCore):
    """``torch.nn.GRU`` behind the core interface; state ``(h,)``, (L, B, H)."""

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1, dropout: float = 0.0,
                 **gru_kwargs: object) -> None:  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, dropout)
        self.rnn = nn.GRU(input_size, hidden_size, num_layers=num_layers, dropout=dropout, **gru_kwargs)


@register_core("irnn")
class IRNNCore(_TorchRNNCore):
    """ReLU RNN with identity-initialised recurrent weights (Le, Jaitly & Hinton 2015).

    Recurrent weights start at ``recurrent_init_scale``·I, input weights at N(0, input_init_std²),
    biases at zero, as in the IRNN paper; state ``(h,)``, (L, B, H).
    """

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1, dropout: float = 0.0,
                 recurrent_init_scale: float = 1.0, input_init_std: float = 0.001) -> None:  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, dropout)
        self.rnn = nn.RNN(input_size, hidden_size, num_layers=num_layers, nonlinearity="relu", dropout=dropout)
        with torch.no_grad():
            for name, param in self.rnn.named_parameters():
                if name.startswith("weight_hh"):
                    param.copy_(torch.eye(hidden_size) * recurrent_init_scale)
                elif name.startswith("weight_ih"):
                    param.normal_(0.0, input_init_std)
                else:
                    param.zero_()
