"""The MiniGrid extractors read what MiniGrid's own observation holds."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

import envs
from fw_agents.extractors import MiniGridMLP


def _view(seed: int = 0) -> tuple[gym.Env, np.ndarray]:
    env = envs.make_env("MiniGrid-MemoryS7-v0")
    obs, _ = env.reset(seed=seed)
    return env, obs


def test_presence_inputs_say_which_channels_are_in_view():
    """With ``presence`` the dense layer also reads, per channel, whether any cell has it: computed
    here from MiniGrid's own (type, colour, state) view, independently of the one-hot wrapper."""
    env, obs = _view()
    extractor = MiniGridMLP(env.observation_space, 8, presence=True)
    inputs = extractor.inputs(torch.as_tensor(obs)[None])[0]
    n_cells = obs.size
    assert torch.equal(inputs[:n_cells], torch.as_tensor(obs).flatten())
    grid, visible = env.unwrapped.gen_obs_grid()
    codes = grid.encode(visible).reshape(-1, 3)
    types, colours = set(codes[:, 0].tolist()), set(codes[:, 1].tolist())
    presence = inputs[n_cells:]
    n_types, n_colours = len(OBJECT_TO_IDX), len(COLOR_TO_IDX)
    assert presence.shape == (obs.shape[0],)
    assert {i for i in range(n_types) if presence[i] == 1} == types
    assert {i for i in range(n_colours) if presence[n_types + i] == 1} == colours


@pytest.mark.parametrize("option", [{"presence": True}, {"pooled": 4}, {"presence": True, "pooled": 4}])
def test_position_free_inputs_do_not_depend_on_where_an_object_is(option: dict) -> None:
    env, obs = _view()
    extractor = MiniGridMLP(env.observation_space, 8, **option)
    moved = np.roll(obs, shift=(2, 3), axis=(1, 2))  # every cell somewhere else
    a, b = (extractor.inputs(torch.as_tensor(o)[None])[0] for o in (obs, moved))
    assert not torch.equal(a[: obs.size], b[: obs.size])
    assert torch.equal(a[obs.size :], b[obs.size :])


def test_without_presence_the_layer_is_the_one_saved_models_hold():
    """The default reads the flattened view alone, with the parameter names and shapes of models
    saved before the option existed (``linear.1`` over 20 × 7 × 7 inputs)."""
    env, obs = _view()
    extractor = MiniGridMLP(env.observation_space, 64)
    assert torch.equal(extractor.inputs(torch.as_tensor(obs)[None])[0], torch.as_tensor(obs).flatten())
    assert {k: tuple(v.shape) for k, v in extractor.state_dict().items()} == {
        "linear.1.weight": (64, obs.size),
        "linear.1.bias": (64,),
    }
    with_presence = MiniGridMLP(env.observation_space, 64, presence=True)
    assert tuple(with_presence.state_dict()["linear.1.weight"].shape) == (64, obs.size + obs.shape[0])


def test_pooled_codes_are_one_shared_layer_per_cell_maximised_over_the_view():
    """``pooled`` reads, per learned code, its maximum over the cells of ``ReLU(U · cell + c)``:
    checked against a plain loop over the 49 cells with the layer's own weights."""
    env, obs = _view()
    extractor = MiniGridMLP(env.observation_space, 8, pooled=5)
    inputs = extractor.inputs(torch.as_tensor(obs)[None])[0].detach().numpy()
    u = extractor.code[0].weight.detach().numpy()
    c = extractor.code[0].bias.detach().numpy()
    _, height, width = obs.shape
    expected = np.full(5, -np.inf)
    for y in range(height):
        for x in range(width):
            expected = np.maximum(expected, np.maximum(u @ obs[:, y, x] + c, 0.0))
    assert inputs.shape == (obs.size + 5,)
    np.testing.assert_allclose(inputs[obs.size :], expected, rtol=1e-6, atol=1e-6)
    assert tuple(extractor.linear[1].weight.shape) == (8, obs.size + 5)


def test_pooled_must_not_be_negative():
    env, _ = _view()
    with pytest.raises(ValueError, match="pooled must be 0 or more"):
        MiniGridMLP(env.observation_space, 8, pooled=-1)


def test_activation_is_chosen_by_name_and_defaults_to_the_saved_models_relu():
    """``activation`` names the dense layer's torch.nn activation; without it the layer is ReLU (the
    models saved before the option). Tanh passes negative pre-activations on (a ReLU unit is silent
    there, and with it its gradient)."""
    env, obs = _view()
    view = torch.as_tensor(obs)[None]
    relu, tanh = MiniGridMLP(env.observation_space, 16), MiniGridMLP(env.observation_space, 16, activation="Tanh")
    tanh.load_state_dict(relu.state_dict())  # same parameters: only the activation differs
    pre = relu.linear[1](relu.inputs(view))
    assert isinstance(relu.linear[2], torch.nn.ReLU)
    assert torch.equal(relu(view), pre.clamp(min=0)) and torch.allclose(tanh(view), torch.tanh(pre))
    for bad in ("Softmaxx", "Linear ", 3):
        with pytest.raises(ValueError, match=r"activation must name a torch\.nn activation"):
            MiniGridMLP(env.observation_space, 8, activation=bad)
