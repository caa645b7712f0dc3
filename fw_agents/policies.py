"""Fast-weight (and baseline-core) policies for sb3-contrib's unmodified ``RecurrentPPO``.

``RecurrentPPO(FastWeightMlpPolicy, env)`` works like ``RecurrentPPO("MlpLstmPolicy", env)``:
the LSTM policies' keyword arguments keep their meaning (``lstm_hidden_size`` = hidden units,
``n_lstm_layers`` = stacked layers, ``lstm_kwargs`` = extra core arguments such as dropout,
``shared_lstm``, ``enable_critic_lstm``, …), and on top come ``core`` ("fw" — the default,
today "fw-lstm" —, "fw-rnn", "fw-paper", "lstm", "gru", "irnn", "alstm", "ff"), ``core_kwargs``,
and for the Ba et al. cores ("fw-rnn", "fw-paper") the shortcuts ``decay``, ``fast_lr``, ``inner_steps`` and ``form``.

How the state fits the algorithm: RecurrentPPO sizes its buffers from ``lstm_actor.num_layers``
and ``lstm_actor.hidden_size`` and stores a ``(h, c)`` pair for every step. :class:`CoreAdapter`
stands in for the ``nn.LSTM``: it packs the core's whole state (``core.pack_state``) into the
two same-shaped tensors, so the buffer holds exactly ``core.state_size`` floats (padded to an
even count) per env-step for the actor and as many for the critic. The policy overrides
``_process_sequence`` so the core resets memory at episode starts inside its own time loop.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
)
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from fw_agents.cores import DEFAULT_CORE, RecurrentCore, core_name, make_core

FW_OPTIONS = ("decay", "fast_lr", "inner_steps", "form")
# hidden units when ``lstm_hidden_size`` is not given (RecurrentActorCriticPolicy's default)
DEFAULT_HIDDEN = 256
# the cores the FW_OPTIONS shortcuts apply to (Ba et al.'s fast-weight RNN)
RNN_FW_CORES = ("fw-rnn", "fw-paper")


def core_arguments(
    lstm_kwargs: dict[str, Any] | None, core_kwargs: dict[str, Any] | None, fw_options: dict[str, Any]
) -> dict[str, Any]:
    """The core's keyword arguments from a policy's: ``lstm_kwargs``, then ``core_kwargs``, then the
    fast-weight options given (``decay``, ``fast_lr``, …; ``None`` = not given); later wins."""
    given = {k: v for k, v in fw_options.items() if v is not None}
    return {**(lstm_kwargs or {}), **(core_kwargs or {}), **given}


class CoreAdapter(nn.Module):
    """Presents a :class:`RecurrentCore` to RecurrentPPO as if it were an ``nn.LSTM``.

    ``num_layers`` is 1 and ``hidden_size`` is half the packed state (rounded up): the state
    tuple ``(h, c)`` of shape (1, B, hidden_size) each holds ``core.pack_state`` split in two.
    """

    def __init__(self, core: RecurrentCore) -> None:
        super().__init__()
        self.core = core
        self.input_size = core.input_size
        self.output_size = core.hidden_size
        self.num_layers = 1
        self.hidden_size = (core.state_size + 1) // 2
        # a one-layer state of two (1, B, H) tensors (the LSTM's h and c) packs into the two halves
        # unchanged: pass it through instead of joining and splitting it at every step
        self.direct = [tuple(shape) for shape in core.state_shapes()] == [(1, self.hidden_size)] * 2

    def to_core_state(self, states: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if self.direct:
            return states[0], states[1]
        flat = torch.cat([states[0][0], states[1][0]], dim=1)[:, : self.core.state_size]
        return self.core.unpack_state(flat)

    def from_core_state(self, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.direct:
            return state[0], state[1]
        flat = self.core.pack_state(state)
        pad = 2 * self.hidden_size - flat.shape[1]
        if pad:
            flat = nn.functional.pad(flat, (0, pad))
        return flat[:, : self.hidden_size].unsqueeze(0), flat[:, self.hidden_size :].unsqueeze(0)

    def forward(
        self,
        x: torch.Tensor,
        states: tuple[torch.Tensor, torch.Tensor],
        episode_starts: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """(T, B, F) inputs and packed states in, (T, B, H) outputs and packed states out."""
        y, state = self.core(x, self.to_core_state(states), episode_starts)
        return y, self.from_core_state(state)


class RecurrentCoreActorCriticPolicy(RecurrentActorCriticPolicy):
    """``RecurrentActorCriticPolicy`` whose recurrent module is any registered core.

    :param core: core name for :func:`fw_agents.make_core` (default ``"fw"``, the alias of the
        package's default core; the policy records the permanent name, e.g. ``"fw-lstm"``).
    :param decay, fast_lr, inner_steps, form: settings of Ba et al.'s fast-weight RNN (only for
        ``core="fw-rnn"`` or ``"fw-paper"``; the default ``"fw-lstm"`` takes its options in ``core_kwargs``).
    :param core_kwargs: further keyword arguments for the core.
    :param shared_core: one core for the actor and the critic, trained by both losses — the
        policy gradient and the value regression — as torch-ac's (rl-starter-files) and BabyAI's
        shared memory is. sb3-contrib's ``shared_lstm`` shares the LSTM too but detaches the
        critic from it, so only the policy gradient trains it; by default (neither) the critic has
        its own core, and what the value learns to remember never reaches the actor's. With
        ``shared_core`` the critic's core *is* the actor's (``lstm_critic is lstm_actor``), run once for both heads
        (with separate feature extractors, once per head). Needs ``enable_critic_lstm=True`` and
        ``shared_lstm=False``.
    The other parameters are those of ``RecurrentActorCriticPolicy`` (``features_extractor_class``
    defaults to the subclass's ``default_features_extractor``); ``lstm_hidden_size`` is
    the core's hidden size, ``n_lstm_layers`` its ``num_layers``, ``lstm_kwargs`` merged into
    ``core_kwargs`` (e.g. ``{"dropout": 0.1}``).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.Tanh,
        ortho_init: bool = True,
        use_sde: bool = False,
        log_std_init: float = 0.0,
        full_std: bool = True,
        use_expln: bool = False,
        squash_output: bool = False,
        features_extractor_class: type[BaseFeaturesExtractor] | None = None,
        features_extractor_kwargs: dict[str, Any] | None = None,
        share_features_extractor: bool = True,
        normalize_images: bool = True,
        optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        lstm_hidden_size: int = DEFAULT_HIDDEN,
        n_lstm_layers: int = 1,
        shared_lstm: bool = False,
        enable_critic_lstm: bool = True,
        lstm_kwargs: dict[str, Any] | None = None,
        core: str = DEFAULT_CORE,
        decay: float | None = None,
        fast_lr: float | None = None,
        inner_steps: int | None = None,
        form: str | None = None,
        core_kwargs: dict[str, Any] | None = None,
        shared_core: bool = False,
    ) -> None:
        if shared_core and (shared_lstm or not enable_critic_lstm):
            raise ValueError(
                "shared_core needs enable_critic_lstm=True and shared_lstm=False (it replaces the critic's core "
                f"by the actor's); got shared_lstm={shared_lstm}, enable_critic_lstm={enable_critic_lstm}"
            )
        fw_options = {"decay": decay, "fast_lr": fast_lr, "inner_steps": inner_steps, "form": form}
        fw_options = {k: v for k, v in fw_options.items() if v is not None}
        core = core_name(core)
        if core not in RNN_FW_CORES and fw_options:
            raise ValueError(
                f"{', '.join(fw_options)} only apply to the fast-weight RNN cores {RNN_FW_CORES}, not {core!r}"
                + ("; the default fast-weight core takes its options in core_kwargs" if core == "fw-lstm" else "")
            )
        if features_extractor_class is None:
            features_extractor_class = self.default_features_extractor
        self.core_name = core
        self.core_options = core_arguments(lstm_kwargs, core_kwargs, fw_options)
        # Build one core now, so bad settings fail before the (discarded) LSTMs are made.
        probe = self._make_core(1, lstm_hidden_size, n_lstm_layers)
        del probe
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch,
            activation_fn,
            ortho_init,
            use_sde,
            log_std_init,
            full_std,
            use_expln,
            squash_output,
            features_extractor_class,
            features_extractor_kwargs,
            share_features_extractor,
            normalize_images,
            optimizer_class,
            optimizer_kwargs,
            lstm_hidden_size,
            n_lstm_layers,
            shared_lstm,
            enable_critic_lstm,
            # the LSTMs the parent builds are replaced below; keep their arguments neutral
            None,
        )
        self.lstm_kwargs = lstm_kwargs or {}
        self.lstm_actor = CoreAdapter(self._make_core(self.features_dim, lstm_hidden_size, n_lstm_layers))
        self.shared_core = shared_core
        if shared_core:
            self.lstm_critic = self.lstm_actor
        elif self.lstm_critic is not None:
            self.lstm_critic = CoreAdapter(self._make_core(self.features_dim, lstm_hidden_size, n_lstm_layers))
        self.lstm_hidden_state_shape = (1, 1, self.lstm_actor.hidden_size)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    default_features_extractor: type[BaseFeaturesExtractor] = FlattenExtractor

    def make_features_extractor(self) -> BaseFeaturesExtractor:
        """The parent's extractor, its ``features_dim`` a Python int: for MultiDiscrete spaces SB3
        computes it as a numpy integer, which ``nn.LSTM`` (and sb3-contrib's stock policy) reject."""
        extractor = super().make_features_extractor()
        extractor._features_dim = int(extractor.features_dim)
        return extractor

    def _make_core(self, input_size: int, hidden_size: int, num_layers: int) -> RecurrentCore:
        try:
            return make_core(self.core_name, input_size, hidden_size, num_layers=num_layers, **self.core_options)
        except TypeError as err:  # an argument the core does not take
            raise ValueError(f"core {self.core_name!r} rejected its arguments {self.core_options}: {err}") from err

    def _one_pass(self) -> bool:
        """Whether the actor and the critic read one core from the same features: run it once."""
        return self.shared_core and self.share_features_extractor

    def _shared_latents(
        self, obs: torch.Tensor, lstm_states: RNNStates, episode_starts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The shared core's one pass: the actor's and the critic's latents and the new state."""
        features = self.extract_features(obs)
        latent, state = self._process_sequence(features, lstm_states.pi, episode_starts, self.lstm_actor)
        return self.mlp_extractor.forward_actor(latent), self.mlp_extractor.forward_critic(latent), state

    def forward(
        self, obs: torch.Tensor, lstm_states: RNNStates, episode_starts: torch.Tensor, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, RNNStates]:
        """The parent's forward; with a shared core, the core runs once for both heads."""
        if not self._one_pass():
            return super().forward(obs, lstm_states, episode_starts, deterministic)
        latent_pi, latent_vf, state = self._shared_latents(obs, lstm_states, episode_starts)
        distribution = self._get_action_dist_from_latent(latent_pi)
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        actions = actions.reshape((-1, *self.action_space.shape))
        return actions, self.value_net(latent_vf), log_prob, RNNStates(state, state)

    def evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor, lstm_states: RNNStates, episode_starts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The parent's evaluate_actions; with a shared core, the core runs once for both heads."""
        if not self._one_pass():
            return super().evaluate_actions(obs, actions, lstm_states, episode_starts)
        latent_pi, latent_vf, _ = self._shared_latents(obs, lstm_states, episode_starts)
        distribution = self._get_action_dist_from_latent(latent_pi)
        return self.value_net(latent_vf), distribution.log_prob(actions), distribution.entropy()

    @property
    def state_bytes_per_step(self) -> int:
        """Bytes RecurrentPPO's rollout buffer stores per env-step for the recurrent states."""
        # four float32 arrays (actor h and c, critic h and c), allocated whatever the critic uses
        return 4 * 4 * self.lstm_actor.num_layers * self.lstm_actor.hidden_size

    @staticmethod
    def _process_sequence(
        features: torch.Tensor,
        lstm_states: tuple[torch.Tensor, torch.Tensor],
        episode_starts: torch.Tensor,
        lstm: nn.Module,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        if not isinstance(lstm, CoreAdapter):
            return RecurrentActorCriticPolicy._process_sequence(features, lstm_states, episode_starts, lstm)
        # (n_seq * T, F) -> (T, n_seq, F); episode starts likewise -> (T, n_seq). The core handles
        # the resets inside its own time loop: one call, whatever the starts.
        n_seq = lstm_states[0].shape[1]
        features_sequence = features.reshape((n_seq, -1, lstm.input_size)).swapaxes(0, 1)
        starts = episode_starts.reshape((n_seq, -1)).swapaxes(0, 1)
        output, states = lstm(features_sequence, lstm_states, starts)
        return torch.flatten(output.transpose(0, 1), start_dim=0, end_dim=1), states


class FastWeightMlpPolicy(RecurrentCoreActorCriticPolicy):
    """Counterpart of ``MlpLstmPolicy`` with a fast-weight core (or any core via ``core=``)."""


class FastWeightCnnPolicy(RecurrentCoreActorCriticPolicy):
    """Counterpart of ``CnnLstmPolicy``: image observations, NatureCNN features by default."""

    default_features_extractor = NatureCNN


class FastWeightMultiInputPolicy(RecurrentCoreActorCriticPolicy):
    """Counterpart of ``MultiInputLstmPolicy``: Dict observations, ``CombinedExtractor`` features."""

    default_features_extractor = CombinedExtractor
