"""Video frames: the attention weights drawn are the core's own memory read."""

from __future__ import annotations

import numpy as np
import torch

from fw_agents import FastWeightRNN
from fw_agents.video import PANEL, attention_panel, compose, read_weights


def test_read_weights_reproduce_the_memory_read():
    """Σ_τ w_τ h(τ) equals A(t)·h₀ with A(t) from the matrix form and h₀ = relu(W h(t) + C x(t) + b)."""
    torch.manual_seed(0)
    core = FastWeightRNN(5, 8, form="matrix", decay=0.9, fast_lr=0.7).double()
    x = torch.randn(6, 1, 5, dtype=torch.float64)
    hiddens = [torch.zeros(8, dtype=torch.float64)]
    state = None
    for t in range(5):
        _, state = core(x[t : t + 1], state)
        hiddens.append(state[0][0, 0])
    # state now holds h(5) and A(4); the read at step 5 uses A(5) = λ A(4) + η h(5) h(5)ᵀ
    h_prev, a_prev = state[0][0, 0], state[1][0, 0]
    a_now = core.decay * a_prev + core.fast_lr * torch.outer(h_prev, h_prev)
    query = torch.relu(core.C[0] @ x[5, 0] + core.bias[0] + core.W[0] @ h_prev)
    past = torch.stack(hiddens[1:])  # h(1) … h(5); h(0) = 0 contributes nothing
    weights = torch.as_tensor(read_weights(core, x[5, 0], h_prev, past))
    torch.testing.assert_close((weights[:, None] * past).sum(0), a_now @ query)


def test_panels_and_frames_have_sane_sizes():
    panel = attention_panel(np.array([0.1, 0.5, 0.2]), [True, False, False], 15)
    assert panel.shape == (PANEL, PANEL, 3)
    wide_bar = np.zeros((20, 740, 3), np.uint8)  # a one-hot vector observation, drawn as a row
    frame = compose([np.zeros((256, 256, 3), np.uint8), wide_bar, panel])
    assert frame.shape == (PANEL, 256 + 8 + 740 + 8 + 256, 3)
