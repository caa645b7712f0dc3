"""Minibatches of short random sequences (``sequence_length``): every rollout step once, in
sequences of consecutive steps of one env, started from the state stored at their first step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib.common.recurrent.type_aliases import RNNStates

from fw_agents.buffers import ChunkedRolloutBuffer, sequence_order


def test_sequence_order_covers_every_step_once_in_short_runs_of_one_env():
    indices, first = sequence_order(3, 10, 4, np.random.default_rng(0))
    assert sorted(indices.tolist()) == list(range(30))
    assert np.flatnonzero(first).tolist() == [0, 4, 8, 10, 14, 18, 20, 24, 28]
    runs = np.split(indices, np.flatnonzero(first[indices]))[1:]
    assert [len(r) for r in runs].count(2) == 3 and all(len(r) in (2, 4) for r in runs)
    for run in runs:
        assert (np.diff(run) == 1).all() and len({i // 10 for i in run}) == 1
    assert indices.tolist() != list(range(30))  # shuffled


def _filled_buffer(n_envs=3, n_steps=10, length=4, restart=(1, 6)):
    """Step s of env e observes 100·e + s, and stores that value as its recurrent state."""
    buffer = ChunkedRolloutBuffer(n_steps, gym.spaces.Box(-1e4, 1e4, (1,)), gym.spaces.Discrete(2), (n_steps, 1, n_envs, 2),
                                  n_envs=n_envs, sequence_length=length)  # fmt: skip
    for step in range(n_steps):
        value = 100.0 * np.arange(n_envs) + step
        state = torch.tensor(value, dtype=torch.float32).reshape(1, n_envs, 1).expand(1, n_envs, 2)
        starts = np.array([(env, step) == restart for env in range(n_envs)], dtype=np.float32)
        buffer.add(value.reshape(n_envs, 1), np.zeros((n_envs, 1)), np.zeros(n_envs), starts,
                   torch.zeros(n_envs), torch.zeros(n_envs), lstm_states=RNNStates((state, state), (state, state)))  # fmt: skip
    buffer.compute_returns_and_advantage(torch.zeros(n_envs), np.zeros(n_envs))
    return buffer


@pytest.mark.parametrize("batch_size", [8, 12, 30])
def test_minibatches_hold_short_sequences_of_one_env_from_their_stored_state(batch_size):
    np.random.seed(0)
    seen = []
    for sample in _filled_buffer().get(batch_size):
        n_seq = sample.lstm_states.pi[0].shape[1]
        obs = sample.observations.reshape(n_seq, -1).numpy()
        mask = sample.mask.reshape(n_seq, -1).numpy().astype(bool)
        for k in range(n_seq):
            steps = obs[k][mask[k]]
            assert 1 <= len(steps) <= 4 and (np.diff(steps) == 1).all() and len({s // 100 for s in steps}) == 1
            assert 106 not in steps[1:]  # an episode start begins a new sequence
            assert sample.lstm_states.pi[0][0, k, 0] == steps[0] == sample.lstm_states.vf[1][0, k, 1]
            seen += steps.tolist()
    assert sorted(seen) == sorted(100.0 * e + s for e in range(3) for s in range(10))


def test_train_ppo_uses_the_sequences_and_keeps_them_on_resume(tmp_path, monkeypatch):
    """``--hyperparams sequence_length:4`` trains from the chunked buffer, and so does ``--resume``
    (the buffer is not saved with the model); every minibatch then holds sequences of ≤ 4 steps."""
    from helpers import train_run

    from fw_agents import buffers

    lengths = []
    original = buffers._Sequences.get

    def spy(self, batch_size=None):
        for sample in original(self, batch_size):
            lengths.append(sample.mask.reshape(sample.lstm_states.pi[0].shape[1], -1).shape[1])
            yield sample

    monkeypatch.setattr(buffers._Sequences, "get", spy)
    assert train_run(tmp_path, "--hyperparams", "sequence_length:4", timesteps=128) == 0
    first = len(lengths)
    assert first > 0 and max(lengths) <= 4
    assert train_run(tmp_path, "--resume", str(tmp_path / "run"), "--timesteps", "256") == 0
    assert len(lengths) > first and max(lengths) <= 4
