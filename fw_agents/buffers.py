"""Minibatches of many short sequences for sb3-contrib's RecurrentPPO (``sequence_length``).

sb3-contrib's recurrent buffer cuts each epoch's minibatches as contiguous slices of the rollout
laid out env after env (from one random split point): with 16 envs × 128 steps and a batch of 256,
every minibatch holds the rollouts of about two envs, so its gradient follows two trajectories.
:class:`ChunkedRolloutBuffer` instead cuts every env's rollout into sequences of
``sequence_length`` steps and fills each minibatch with sequences drawn at random from all the
envs (torch-ac's ``recurrence``, rl-starter-files' way). A sequence starts from the recurrent state
the rollout stored at its first step (as sb3-contrib's sequences that start mid-rollout already
do), episode starts inside it still reset the state, and gradients flow back over at most
``sequence_length`` steps. RecurrentPPO itself is unmodified: :func:`use_sequences` replaces a
model's buffer after the model is built or loaded (the buffer is never saved).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import RecurrentDictRolloutBuffer, RecurrentRolloutBuffer

_STATES = ("hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf")
_PER_STEP = ("actions", "values", "log_probs", "advantages", "returns", *_STATES, "episode_starts")


def sequence_order(n_envs: int, n_steps: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices into a rollout flattened env after env (``env * n_steps + step``), grouped into
    sequences of ``length`` steps (the last of each env's rollout shorter when ``length`` does not
    divide ``n_steps``) in a random order, and a 0/1 array over the flat rollout marking the first
    step of every sequence."""
    starts = (np.arange(n_envs)[:, None] * n_steps + np.arange(0, n_steps, length)[None, :]).ravel()
    first = np.zeros(n_envs * n_steps)
    first[starts] = 1.0
    ends = np.minimum(starts + length, (starts // n_steps + 1) * n_steps)
    order = rng.permutation(len(starts))
    indices = np.concatenate([np.arange(starts[i], ends[i]) for i in order])
    return indices, first


class _Sequences:
    """What both chunked buffers add to their sb3-contrib parents (which differ only in observations)."""

    def __init__(self, *args: Any, sequence_length: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sequence_length = sequence_length

    def _flatten(self: Any) -> None:
        # sb3-contrib's own preparation: states to (n_steps, n_envs, layers, dim), then every
        # per-step array from (n_steps, n_envs, ...) to (n_envs * n_steps, ...), env after env
        for name in _STATES:
            self.__dict__[name] = self.__dict__[name].swapaxes(1, 2)
        if isinstance(self.observations, dict):
            for key, obs in self.observations.items():
                self.observations[key] = self.swap_and_flatten(obs)
        else:
            self.observations = self.swap_and_flatten(self.observations)
        for name in _PER_STEP:
            self.__dict__[name] = self.swap_and_flatten(self.__dict__[name])
        self.generator_ready = True

    def get(self: Any, batch_size: int | None = None) -> Generator[Any, None, None]:
        assert self.full, "Rollout buffer must be full before sampling from it"
        if not self.generator_ready:
            self._flatten()
        total = self.buffer_size * self.n_envs
        batch_size = total if batch_size is None else batch_size
        rng = np.random.default_rng(np.random.randint(2**31))  # np.random, as sb3-contrib's split: the model's seed
        indices, first = sequence_order(self.n_envs, self.buffer_size, self.sequence_length, rng)
        for start in range(0, total, batch_size):
            yield self._get_samples(indices[start : start + batch_size], first[:, None])  # (N, 1), as sb3-contrib's


class ChunkedRolloutBuffer(_Sequences, RecurrentRolloutBuffer):
    """:class:`RecurrentRolloutBuffer` whose minibatches are random sequences of ``sequence_length`` steps."""


class ChunkedDictRolloutBuffer(_Sequences, RecurrentDictRolloutBuffer):
    """:class:`RecurrentDictRolloutBuffer` whose minibatches are random sequences of ``sequence_length`` steps."""


def use_sequences(model: RecurrentPPO, length: int) -> None:
    """Give ``model`` a buffer of the same size whose minibatches are random ``length``-step sequences."""
    old = model.rollout_buffer
    cls = ChunkedDictRolloutBuffer if isinstance(old, RecurrentDictRolloutBuffer) else ChunkedRolloutBuffer
    model.rollout_buffer = cls(
        old.buffer_size,
        old.observation_space,
        old.action_space,
        old.hidden_state_shape,
        device=old.device,
        gamma=old.gamma,
        gae_lambda=old.gae_lambda,
        n_envs=old.n_envs,
        sequence_length=length,
    )
