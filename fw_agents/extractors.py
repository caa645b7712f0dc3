"""Feature extractors for the recurrent policies."""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class MiniGridCNN(BaseFeaturesExtractor):
    """The small CNN MiniGrid's documentation suggests for its 7×7×3 partial views.

    Three 2×2 convolutions (16, 32, 64 channels, ReLU) and a linear layer to ``features_dim``.
    NatureCNN needs at least 36×36 pixels, so it cannot read a 7×7 view.
    """

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 64) -> None:
        super().__init__(observation_space, features_dim)
        channels = observation_space.shape[0]
        self.cnn = nn.Sequential(
            nn.Conv2d(channels, 16, (2, 2)),
            nn.ReLU(),
            nn.Conv2d(16, 32, (2, 2)),
            nn.ReLU(),
            nn.Conv2d(32, 64, (2, 2)),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n_flatten = self.cnn(torch.as_tensor(observation_space.sample()[None]).float()).shape[1]
        self.linear = nn.Sequential(nn.Linear(n_flatten, features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(observations))


class MiniGridMLP(BaseFeaturesExtractor):
    """One ReLU layer over the flattened view: ``features = ReLU(W · flatten(obs) + b)``.

    MiniGrid's one-hot view (:class:`envs.minigrid_view.MiniGridOneHot`, 20 × 7 × 7) is small
    enough that a dense layer reads it whole; on a CPU it costs a fraction of the CNN's 2×2
    convolutions, whose small images torch handles slowly.

    :param presence: also read, per channel, whether any cell of the view has it (the maximum over
        the cells: which object types, colours and states are in view, wherever they are):
        ``features = ReLU(W · [flatten(obs); max_cells(obs)] + b)``. A dense layer alone sees an
        object at each of the 49 cells through separate weights, so before anything rewards it the
        features barely tell a key from a ball; the presence inputs say it in one place, at any
        position. Default False (the layer of models saved without it).
    :param pooled: also read this many learned object codes, pooled over the view: every cell's
        channels go through one shared layer, ``code(cell) = ReLU(U · obs[:, cell] + c)``, and the
        dense layer reads each code's maximum over the cells,
        ``features = ReLU(W · [flatten(obs); max_cells code(cell)] + b)``. The code of an object is
        the same at every cell, and unlike ``presence`` it can bind an object's type to its colour
        and state. Default 0 (none: the layer of models saved without it).
    :param activation: the dense layer's activation, a ``torch.nn`` class name. ``"ReLU"`` (the
        default, the layer of models saved without it) lets units die: trained on MiniGrid, most of
        them end up silent on every view (``benchmarks/silent_units.py``). ``"Tanh"`` cannot die;
        measured, it kept every unit but did not raise success (RESULTS.md, "MiniGrid").
    """

    def __init__(
        self,
        observation_space: gym.spaces.Box,
        features_dim: int = 64,
        presence: bool = False,
        pooled: int = 0,
        activation: str = "ReLU",
    ) -> None:
        super().__init__(observation_space, features_dim)
        if pooled < 0:
            raise ValueError(f"pooled must be 0 or more object codes, got {pooled}")
        if not isinstance(activation, str) or not isinstance(getattr(nn, activation, None), type):
            raise ValueError(f"activation must name a torch.nn activation such as 'ReLU' or 'Tanh', got {activation!r}")
        self.presence = bool(presence)
        channels = int(observation_space.shape[0])
        n_inputs = int(torch.tensor(observation_space.shape).prod())
        if self.presence:
            n_inputs += channels
        self.code = nn.Sequential(nn.Linear(channels, pooled), nn.ReLU()) if pooled else None
        n_inputs += pooled
        self.linear = nn.Sequential(nn.Flatten(), nn.Linear(n_inputs, features_dim), getattr(nn, activation)())

    def inputs(self, observations: torch.Tensor) -> torch.Tensor:
        """What the dense layer reads, (B, n): the flattened view, then (with ``presence``) per channel
        the maximum over the cells, then (with ``pooled``) each object code's maximum over the cells."""
        parts = [observations.flatten(1)]
        if self.presence or self.code is not None:
            cells = observations.flatten(2)  # (B, channels, cells)
            if self.presence:
                parts.append(cells.amax(dim=2))
            if self.code is not None:
                parts.append(self.code(cells.transpose(1, 2)).amax(dim=1))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.linear(self.inputs(observations))
