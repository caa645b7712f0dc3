"""Minibatches of short random sequences (``sequence_length``): every rollout step once, in
sequences of consecutive steps of one env, started from the state stored at their first step.
And the library's faster padding: sb3-contrib's minibatches, the same tensors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib.common.recurrent.buffers import RecurrentDictRolloutBuffer, RecurrentRolloutBuffer
from sb3_contrib.common.recurrent.type_aliases import RNNStates

from fw_agents.buffers import (
    ChunkedRolloutBuffer,
    FastDictRolloutBuffer,
    FastRolloutBuffer,
    padded_sequences,
    sequence_order,
)


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
    space = gym.spaces.Box(-1e4, 1e4, (1,))
    buffer = ChunkedRolloutBuffer(n_steps, space, gym.spaces.Discrete(2), (n_steps, 1, n_envs, 2),
                                  n_envs=n_envs, sequence_length=length)  # fmt: skip
    for step in range(n_steps):
        value = 100.0 * np.arange(n_envs) + step
        state = torch.tensor(value, dtype=torch.float32).reshape(1, n_envs, 1).expand(1, n_envs, 2)
        starts = np.array([(env, step) == restart for env in range(n_envs)], dtype=np.float32)
        states = RNNStates((state, state), (state, state))
        buffer.add(value.reshape(n_envs, 1), np.zeros((n_envs, 1)), np.zeros(n_envs), starts,
                   torch.zeros(n_envs), torch.zeros(n_envs), lstm_states=states)  # fmt: skip
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


def _memorycatch_rollout(core, before_rollout=lambda model: None):
    """A small RecurrentPPO model of ``core`` on MemoryCatch-v0 (4 envs, 64 steps, hidden 16) with one
    rollout collected into its buffer; ``before_rollout(model)`` runs first (e.g. to swap the buffer)."""
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    import envs
    from fw_agents import FastWeightMlpPolicy

    class Nothing(BaseCallback):
        def _on_step(self) -> bool:
            return True

    env = make_vec_env(lambda: envs.make_env("MemoryCatch-v0"), n_envs=4, seed=0)
    kwargs = {"lstm_hidden_size": 16, "core": core}
    model = RecurrentPPO(FastWeightMlpPolicy, env, n_steps=64, seed=0, policy_kwargs=kwargs)
    before_rollout(model)
    model._setup_learn(256, Nothing())
    callback = Nothing()
    callback.init_callback(model)
    model.collect_rollouts(env, callback, model.rollout_buffer, n_rollout_steps=64)
    return model


@pytest.mark.parametrize("core", ["fw", "lstm"])
def test_sequences_replay_the_rollout_from_their_stored_states(core):
    """Before any update, the policy run over each minibatch's sequences (each from the state the
    rollout stored at its first step, resets at episode starts) gives back exactly the values and
    log-probabilities the rollout recorded: the sequences start where they should, in every core's
    state layout (the fast-weight core packs its memory into the stored states)."""
    import copy

    from fw_agents.buffers import install_buffer

    model = _memorycatch_rollout(core)
    stock = model.rollout_buffer
    assert stock.episode_starts.sum() > 4  # episodes end inside the rollout
    install_buffer(model, 16)
    model.rollout_buffer.__dict__.update(copy.deepcopy({**stock.__dict__, "sequence_length": 16}))
    np.random.seed(0)
    with torch.no_grad():
        for sample in model.rollout_buffer.get(64):
            actions = sample.actions.long().flatten()
            values, log_prob, _ = model.policy.evaluate_actions(
                sample.observations, actions, sample.lstm_states, sample.episode_starts
            )
            mask = sample.mask > 1e-8
            assert sample.mask.reshape(sample.lstm_states.pi[0].shape[1], -1).shape[1] <= 16
            torch.testing.assert_close(values.flatten()[mask], sample.old_values[mask], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(log_prob[mask], sample.old_log_prob[mask], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dict_obs", [False, True])
@pytest.mark.parametrize("batch_size", [7, 32, 96])
def test_fast_padding_gives_sb3_contribs_minibatches_bit_for_bit(dict_obs, batch_size):
    """The same rollout (random observations, states, values; episodes starting anywhere, also at
    a rollout's first step) through sb3-contrib's buffer and the library's: every minibatch holds
    identical tensors — sequences, padding, mask and start states."""
    n_envs, n_steps = 4, 24
    box = gym.spaces.Box(-1.0, 1.0, (2, 3))
    space = gym.spaces.Dict({"a": box, "b": gym.spaces.Box(-1.0, 1.0, (5,))}) if dict_obs else box
    if dict_obs:
        stock_cls, fast_cls = RecurrentDictRolloutBuffer, FastDictRolloutBuffer
    else:
        stock_cls, fast_cls = RecurrentRolloutBuffer, FastRolloutBuffer
    args = (n_steps, space, gym.spaces.Discrete(3), (n_steps, 1, n_envs, 5))
    stock, fast = stock_cls(*args, n_envs=n_envs), fast_cls(*args, n_envs=n_envs)
    rng = np.random.default_rng(1)
    for _ in range(n_steps):
        if dict_obs:
            obs = {k: rng.normal(size=(n_envs, *v.shape)) for k, v in space.items()}
        else:
            obs = rng.normal(size=(n_envs, 2, 3))
        state = torch.tensor(rng.normal(size=(1, n_envs, 5)), dtype=torch.float32)
        starts = (rng.random(n_envs) < 0.3).astype(np.float32)
        values, log_probs = torch.tensor(rng.normal(size=n_envs)), torch.tensor(rng.normal(size=n_envs))
        args = (obs, rng.integers(0, 3, (n_envs, 1)), rng.normal(size=n_envs), starts, values, log_probs)
        for buffer in (stock, fast):
            buffer.add(*args, lstm_states=RNNStates((state, -state), (2 * state, state + 1)))
    for buffer in (stock, fast):
        buffer.compute_returns_and_advantage(torch.zeros(n_envs), np.zeros(n_envs))
    assert stock.episode_starts.sum() > 10
    np.random.seed(3)
    expected = list(stock.get(batch_size))
    np.random.seed(3)
    got = list(fast.get(batch_size))
    assert len(got) == len(expected) and max(s.mask.numel() for s in got) > batch_size  # padded somewhere
    for want, have in zip(expected, got, strict=True):
        for name, value in want._asdict().items():
            other = getattr(have, name)
            if name == "lstm_states":
                pairs = [(a, b) for x, y in zip(value, other, strict=True) for a, b in zip(x, y, strict=True)]
            elif name == "observations" and dict_obs:
                pairs = [(value[k], other[k]) for k in value]
            else:
                pairs = [(value, other)]
            for a, b in pairs:
                assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), name


@pytest.mark.parametrize("seed", range(6))
def test_paired_rows_hold_every_step_once_and_cut_only_at_two_times(seed):
    """Two sequences to a row: every minibatch step once, each sequence whole and in order, a second
    sequence only from half the row on and only where an episode begins — so inside rows a core's
    state is reset at one shared step and nowhere else."""
    rng = np.random.default_rng(seed)
    size = 96
    starts = (rng.random(size) < 0.15).astype(np.float32)
    change = np.zeros(size)
    change[rng.choice(size, 3, replace=False)] = 1.0
    sb3_first, sb3_index, sb3_valid = padded_sequences(starts, change)
    first, index, valid = padded_sequences(starts, change, pair=True)
    assert sorted(index[valid].tolist()) == list(range(size))
    assert index.shape[1] == sb3_index.shape[1] and len(first) <= len(sb3_first)
    assert (index[:, 0] == first).all() and valid[:, 0].all()
    half = (index.shape[1] + 1) // 2
    sequences = set()
    cut = np.logical_or(starts, change)
    cut[0] = True
    for r in range(len(first)):
        steps = np.flatnonzero(valid[r])  # the row's steps, cut where a sequence begins
        runs = np.split(steps, np.flatnonzero(cut[index[r, steps]])[1:])
        assert 1 <= len(runs) <= 2 and runs[0][0] == 0
        for run in runs:
            positions = index[r, run]
            assert (np.diff(run) == 1).all() and (np.diff(positions) == 1).all()
            sequences.add(tuple(positions.tolist()))
        if len(runs) == 2:
            assert runs[1][0] == half and starts[index[r, half]] == 1.0 and runs[0][-1] < half
    assert sequences == {tuple(sb3_index[r][sb3_valid[r]].tolist()) for r in range(len(sb3_first))}
    assert len(first) < len(sb3_first)  # some rows hold two


@pytest.mark.parametrize("core", ["fw-lstm", "lstm"])
def test_paired_rows_give_the_same_ppo_loss_and_gradient(core):
    """PPO's loss (sb3-contrib's, over the unmasked steps) and its gradient from a rollout with many
    episode starts, laid out one sequence per row and two to a row: the same within float rounding."""
    from fw_agents.buffers import install_buffer

    model = _memorycatch_rollout(core, install_buffer)
    buffer = model.rollout_buffer
    assert buffer.pair

    def losses(pair):
        buffer.pair = pair
        np.random.seed(0)
        out = []
        for sample in buffer.get(96):
            mask = sample.mask > 1e-8
            values, log_prob, entropy = model.policy.evaluate_actions(
                sample.observations, sample.actions.long().flatten(), sample.lstm_states, sample.episode_starts
            )
            ratio = torch.exp(log_prob - sample.old_log_prob)
            loss = (
                -torch.mean(
                    torch.min(sample.advantages * ratio, sample.advantages * torch.clamp(ratio, 0.8, 1.2))[mask]
                )
                - 0.01 * torch.mean(entropy[mask])
                + 0.5 * torch.mean(((sample.returns - values.flatten()) ** 2)[mask])
            )
            grads = torch.autograd.grad(loss, list(model.policy.parameters()), allow_unused=True)
            out.append((loss, [g for g in grads if g is not None], sample.mask.numel()))
        return out

    single, paired = losses(False), losses(True)
    assert sum(n for *_, n in paired) < sum(n for *_, n in single)  # fewer padded entries
    for (loss_a, grads_a, _), (loss_b, grads_b, _) in zip(single, paired, strict=True):
        torch.testing.assert_close(loss_b, loss_a, rtol=1e-5, atol=1e-6)
        for a, b in zip(grads_a, grads_b, strict=True):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)
