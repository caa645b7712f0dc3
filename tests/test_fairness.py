"""The harness is fair: our LSTM core inside FastWeightMlpPolicy is sb3-contrib's MlpLstmPolicy.

With the stock policy's weights copied in, ``FastWeightMlpPolicy(core="lstm")`` must give the same
values, log-probabilities, entropies and gradients on a rollout batch whose sequences contain
episode starts — so a comparison between cores differs in the core alone.
"""

from __future__ import annotations

import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env

import envs
from fw_agents import FastWeightMlpPolicy

KWARGS = {"lstm_hidden_size": 16, "net_arch": {"pi": [16], "vf": [16]}, "enable_critic_lstm": True}


def _rollout_model(policy, **extra):
    env = make_vec_env(lambda: envs.make_env("CartPoleNoVel-v1"), n_envs=3, seed=0)
    return RecurrentPPO(policy, env, n_steps=48, batch_size=48, n_epochs=1, seed=0,
                        policy_kwargs={**KWARGS, **extra})  # fmt: skip


def _core_name(name: str) -> str:
    """The stock policy's parameter name in ours: the LSTMs sit inside adapter.core.rnn."""
    for lstm in ("lstm_actor.", "lstm_critic."):
        if name.startswith(lstm):
            return f"{lstm}core.rnn.{name[len(lstm) :]}"
    return name


def test_lstm_core_equals_stock_lstm_policy_on_a_rollout_batch():
    stock = _rollout_model("MlpLstmPolicy")
    ours = _rollout_model(FastWeightMlpPolicy, core="lstm")
    stock_params = stock.policy.state_dict()
    ours.policy.load_state_dict({_core_name(k): v for k, v in stock_params.items()})

    total, callback = stock._setup_learn(48, callback=None)
    callback.on_training_start(locals(), globals())
    assert stock.collect_rollouts(stock.env, callback, stock.rollout_buffer, n_rollout_steps=48)
    batches = list(stock.rollout_buffer.get(batch_size=48))
    starts = sum(float(b.episode_starts.sum()) for b in batches)
    assert starts > 0, "the batch must contain episode starts"

    named_ours = dict(ours.policy.named_parameters())
    for batch in batches:
        outputs = []
        for policy in (stock.policy, ours.policy):
            policy.zero_grad()
            values, log_prob, entropy = policy.evaluate_actions(
                batch.observations, batch.actions, batch.lstm_states, batch.episode_starts
            )
            mask = batch.mask > 1e-8
            (values.flatten()[mask].sum() + log_prob[mask].sum() + entropy[mask].sum()).backward()
            outputs.append((values.flatten()[mask], log_prob[mask], entropy[mask]))
        for a, b in zip(*outputs, strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        for name, param in stock.policy.named_parameters():
            other = named_ours[_core_name(name)]
            assert param.grad is not None and other.grad is not None, name
            torch.testing.assert_close(param.grad, other.grad, atol=1e-5, rtol=1e-4, msg=name)
