"""Agents must *learn*: the shipped fast-weight policy on a small memory task, seeded and short."""

from __future__ import annotations

import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env

import envs
from fw_agents import FastWeightMlpPolicy


def success_rate(model: RecurrentPPO, env_id: str, episodes: int, seed: int) -> float:
    """Deterministic success rate over ``episodes`` fresh episodes (8 envs in step)."""
    env = make_vec_env(lambda: envs.make_env(env_id), n_envs=8, seed=seed)
    obs, state, starts, results = env.reset(), None, np.ones(8, bool), []
    while len(results) < episodes:
        actions, state = model.predict(obs, state=state, episode_start=starts, deterministic=True)
        obs, _, starts, infos = env.step(actions)
        results += [infos[i]["is_success"] for i in np.flatnonzero(starts)]
    return float(np.mean(results[:episodes]))


def test_default_fast_weight_policy_learns_delayed_recall():
    """DelayedRecall-L10: the cue is shown once, the answer is asked 10 steps later. A memoryless
    agent succeeds half the time; the default fast-weight policy must reach 0.9 in 12k steps."""
    torch.manual_seed(0)
    env = make_vec_env(lambda: envs.make_env("DelayedRecall-L10"), n_envs=8, seed=0)
    model = RecurrentPPO(FastWeightMlpPolicy, env, n_steps=32, batch_size=128, n_epochs=4, learning_rate=1e-3,
                         ent_coef=0.01, seed=0,
                         policy_kwargs={"lstm_hidden_size": 32, "net_arch": {"pi": [32], "vf": [32]}})  # fmt: skip
    model.learn(12_000)
    assert success_rate(model, "DelayedRecall-L10", episodes=200, seed=100) >= 0.9
