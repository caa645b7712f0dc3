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
    """

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 64, presence: bool = False) -> None:
        super().__init__(observation_space, features_dim)
        self.presence = bool(presence)
        n_inputs = int(torch.tensor(observation_space.shape).prod())
        if self.presence:
            n_inputs += int(observation_space.shape[0])
        self.linear = nn.Sequential(nn.Flatten(), nn.Linear(n_inputs, features_dim), nn.ReLU())

    def inputs(self, observations: torch.Tensor) -> torch.Tensor:
        """What the dense layer reads, (B, n): the flattened view, then (with ``presence``) per channel
        the maximum over the cells."""
        flat = observations.flatten(1)
        if not self.presence:
            return flat
        return torch.cat([flat, observations.flatten(2).amax(dim=2)], dim=1)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.linear(self.inputs(observations))
