"""Minibatches of many short sequences for sb3-contrib's RecurrentPPO (``sequence_length``).

sb3-contrib's recurrent buffer cuts each epoch's minibatches as contiguous slices of the rollout
laid out env after env (from one random split point): with 16 envs × 128 steps and a batch of 256,
every minibatch holds the rollouts of about two envs, so its gradient follows two trajectories.
:class:`ChunkedRolloutBuffer` instead cuts every env's rollout into sequences of
``sequence_length`` steps and fills each minibatch with sequences drawn at random from all the
envs (torch-ac's ``recurrence``, rl-starter-files' way). A sequence starts from the recurrent state
the rollout stored at its first step (as sb3-contrib's sequences that start mid-rollout already
do), episode starts inside it still reset the state, and gradients flow back over at most
``sequence_length`` steps. RecurrentPPO itself is unmodified: :func:`install_buffer` replaces a
model's buffer after the model is built or loaded (the buffer is never saved).

Every buffer the library trains with (:func:`install_buffer`) also pads its minibatches faster:
sb3-contrib cuts a minibatch into sequences at every episode start and env change and pads them to
one length with a ``torch.tensor`` per sequence and array (a minibatch of short MiniGrid episodes
holds some 25 sequences: about 250 calls each); :func:`padded_sequences` builds the same layout as
one index, so each array is gathered once — the same tensors, bit for bit. With the library's
cores, which reset their state at an episode start inside a sequence, it also puts a short
sequence that begins an episode into the second half of another's row: a MiniGrid-MemoryS7
minibatch of 256 steps then holds about 450 entries instead of 730, and the per-entry work of the
update (the extractor, the heads, the fast-weight memory) shrinks with it. The loss and its
gradient are the same up to float rounding (the masked means sum in another order).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import RecurrentDictRolloutBuffer, RecurrentRolloutBuffer
from sb3_contrib.common.recurrent.type_aliases import (
    RecurrentDictRolloutBufferSamples,
    RecurrentRolloutBufferSamples,
    RNNStates,
)

from fw_agents.policies import CoreAdapter

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


def padded_sequences(
    episode_starts: np.ndarray, env_change: np.ndarray, pair: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sb3-contrib's sequences of one minibatch (``create_sequencers``: a new one at every episode
    start and env change, and at the first step), laid out as rows of one length (the longest
    sequence's). Returns the minibatch position where each row starts (its stored state is the
    row's), ``index`` (rows, length): the minibatch position of each entry, 0 for padding, and
    ``valid`` (rows, length): which entries are steps rather than padding.

    ``pair=False``: one sequence per row, sb3-contrib's layout exactly. ``pair=True``: a row may also
    hold a second, short sequence from half its length on, if that one begins an episode (the state
    is reset there, so nothing carries over from the first) — fewer rows of padding, for cores that
    reset their state inside a sequence, at one more cut in time (every second sequence starts at
    the same step).
    """
    cut = np.logical_or(episode_starts, env_change).ravel()
    cut[0] = True
    first = np.flatnonzero(cut)
    lengths = np.diff(np.append(first, cut.size))
    longest = int(lengths.max())
    if not pair or longest < 2:
        steps = np.arange(longest)
        valid = steps[None, :] < lengths[:, None]
        return first, np.where(valid, first[:, None] + steps[None, :], 0), valid
    half = (longest + 1) // 2  # where a row's second sequence starts
    begins = np.asarray(episode_starts).ravel()[first] > 0
    fits_second = begins & (lengths <= longest - half)  # may start a row's second half
    partners = np.flatnonzero(fits_second).tolist()
    short = lengths <= half
    rows = [(i, -1) for i in np.flatnonzero(~short)]
    for i in np.flatnonzero(short & ~fits_second):
        rows.append((i, partners.pop() if partners else -1))
    while partners:
        a = partners.pop()
        rows.append((a, partners.pop() if partners else -1))
    index = np.zeros((len(rows), longest), dtype=np.int64)
    valid = np.zeros((len(rows), longest), dtype=bool)
    for r, (a, b) in enumerate(rows):
        index[r, : lengths[a]] = first[a] + np.arange(lengths[a])
        valid[r, : lengths[a]] = True
        if b >= 0:
            index[r, half : half + lengths[b]] = first[b] + np.arange(lengths[b])
            valid[r, half : half + lengths[b]] = True
    return first[[a for a, _ in rows]], index, valid


class _FastPadding:
    """sb3-contrib's ``_get_samples`` with the padding done by one gather per array (the module doc)."""

    pair = False  # sb3-contrib's layout; install_buffer pairs short sequences for the library's cores

    def _get_samples(self: Any, batch_inds: np.ndarray, env_change: np.ndarray, env: Any = None) -> Any:
        first, index, valid = padded_sequences(self.episode_starts[batch_inds], env_change[batch_inds], self.pair)
        self.seq_start_indices = first  # as sb3-contrib's buffer leaves it
        rows = batch_inds[index]  # (rows, length): entries of the flat rollout
        padding = ~valid

        def pad(array: np.ndarray) -> torch.Tensor:  # (rows, length, *shape), zeros where padded
            out = array[rows]
            out[padding] = 0
            return torch.as_tensor(out, device=self.device)

        def flat(array: np.ndarray) -> torch.Tensor:
            return pad(array).reshape(-1)

        size = index.size
        starts = batch_inds[first]

        def states(h: np.ndarray, c: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            # (n_envs * n_steps, layers, dim) -> (layers, rows, dim): each row's first entry's
            return tuple(self.to_torch(s[starts].swapaxes(0, 1)).contiguous() for s in (h, c))

        fields = {
            "actions": pad(self.actions).reshape((size, *self.actions.shape[1:])),
            "old_values": flat(self.values),
            "old_log_prob": flat(self.log_probs),
            "advantages": flat(self.advantages),
            "returns": flat(self.returns),
            "lstm_states": RNNStates(
                states(self.hidden_states_pi, self.cell_states_pi), states(self.hidden_states_vf, self.cell_states_vf)
            ),
            "episode_starts": flat(self.episode_starts),
            "mask": torch.as_tensor(valid.astype(np.float32).reshape(-1), device=self.device),
        }
        if isinstance(self.observations, dict):
            shapes = self.obs_shape
            observations = {key: pad(obs).reshape((size, *shapes[key])) for key, obs in self.observations.items()}
            return RecurrentDictRolloutBufferSamples(observations=observations, **fields)
        observations = pad(self.observations).reshape((size, *self.obs_shape))
        return RecurrentRolloutBufferSamples(observations=observations, **fields)


class FastRolloutBuffer(_FastPadding, RecurrentRolloutBuffer):
    """:class:`RecurrentRolloutBuffer` padding its minibatches faster (the module doc)."""


class FastDictRolloutBuffer(_FastPadding, RecurrentDictRolloutBuffer):
    """:class:`RecurrentDictRolloutBuffer` padding its minibatches faster (the module doc)."""


class _Sequences(_FastPadding):
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


def install_buffer(model: RecurrentPPO, sequence_length: int | None = None) -> None:
    """Give ``model`` a buffer of the same size that pads its minibatches faster — with the
    library's cores, which reset their state inside a sequence, two short sequences to a row
    (:func:`padded_sequences`) — and, with ``sequence_length``, fills them with random sequences of
    that many steps (the buffer is not saved with a model: call this after building or loading one)."""
    old = model.rollout_buffer
    dict_obs = isinstance(old, RecurrentDictRolloutBuffer)
    if sequence_length is None:
        cls, extra = (FastDictRolloutBuffer if dict_obs else FastRolloutBuffer), {}
    else:
        cls = ChunkedDictRolloutBuffer if dict_obs else ChunkedRolloutBuffer
        extra = {"sequence_length": sequence_length}
    model.rollout_buffer = cls(
        old.buffer_size,
        old.observation_space,
        old.action_space,
        old.hidden_state_shape,
        device=old.device,
        gamma=old.gamma,
        gae_lambda=old.gae_lambda,
        n_envs=old.n_envs,
        **extra,
    )
    # sb3-contrib's own LSTM would step through a row's second sequence one step at a time
    model.rollout_buffer.pair = isinstance(getattr(model.policy, "lstm_actor", None), CoreAdapter)
