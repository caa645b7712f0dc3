"""Video frames: the attention weights drawn are the core's own memory read."""

from __future__ import annotations

import numpy as np
import torch

from fw_agents import FastWeightRNN
from fw_agents.video import BLANK_BAR, CAPTION, PANEL, VISIBLE_BAR, attention_panel, compose


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
    weights = core.read_weights(x[:, 0])  # (1, 6): over the steps 0 … 5, the current one last (not yet written)
    assert weights.shape == (1, 6) and weights[0, -1] == 0
    torch.testing.assert_close((weights[0, :-1, None] * past).sum(0), a_now @ query)


def test_frames_carry_a_header_captions_and_a_legend():
    panel = attention_panel(np.array([0.1, 0.5, 0.2]), [True, False, False], 15)
    assert panel.shape == (PANEL, PANEL, 3)
    wide_bar = np.zeros((20, 740, 3), np.uint8)  # a one-hot vector observation, drawn as a row
    frame = compose([np.zeros((256, 256, 3), np.uint8), wide_bar, panel], header="step 1")
    # header + caption strips above the panels, the legend below the memory panel
    assert frame.shape == (CAPTION + CAPTION + PANEL + 2 * CAPTION, 256 + 8 + 740 + 8 + 256, 3)
    header, caption = frame[:CAPTION], frame[CAPTION : 2 * CAPTION]
    assert (header != header[0, 0]).any(), "the header strip has no text"
    for x0, x1 in ((0, 256), (264, 1004), (1012, 1268)):  # every panel has its own caption text
        assert (caption[:, x0:x1] != caption[0, x0]).any()
    legend = frame[-2 * CAPTION :, 1012:]
    assert (legend == VISIBLE_BAR).all(axis=-1).any() and (legend == BLANK_BAR).all(axis=-1).any()
    assert compose([np.zeros((256, 256, 3), np.uint8)]).shape == (CAPTION + PANEL, 256, 3)


def test_minigrid_video_shows_grid_view_and_memory(tmp_path):
    """A MiniGrid run's video: the full grid, MiniGrid's picture of the partial view, the memory panel."""
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    import envs
    from fw_agents import FastWeightMlpPolicy
    from fw_agents.extractors import MiniGridMLP
    from fw_agents.video import record

    env = make_vec_env(lambda: envs.make_env("MiniGrid-MemoryS7-v0"), n_envs=1, seed=0)
    kwargs = {"lstm_hidden_size": 8, "features_extractor_class": MiniGridMLP}
    model = RecurrentPPO(FastWeightMlpPolicy, env, policy_kwargs=kwargs, n_steps=8, seed=0)
    play_env = envs.make_env("MiniGrid-MemoryS7-v0", render_mode="rgb_array", max_steps=6)
    frames, returns = record(model, play_env, episodes=1)
    assert len(returns) == 1 and len(frames) == 6 + 3  # six steps, then the outcome held for three frames
    assert frames[0].shape[0] == CAPTION + CAPTION + PANEL + 2 * CAPTION
    # the grid (7 tiles of 32 px), the partial view drawn by MiniGrid (7 × 32 px), the memory panel
    assert frames[0].shape[1] == 224 + 8 + 224 + 8 + PANEL
