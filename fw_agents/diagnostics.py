"""Memory diagnostics logged to TensorBoard while training: does the agent use its memory?

Every ``every`` rollouts :class:`MemoryDiagnostics` replays the start of the latest rollout
(the first ``max_envs`` envs, from the recurrent state stored at the rollout's first step)
through each fast-weight core of the policy and logs, under ``memory/``:

* the default core (:class:`FastWeightLSTM`): ``actor_read_ratio_<l>`` (and ``critic_…``),
  ‖g ⊙ N(r)‖ / ‖h‖ at layer l — the memory's share of the output against the LSTM's (0: shut);
  ``actor_gate_abs_<l>``, mean |g|; ``actor_write_<l>``, the mean write strength β;
* Ba et al.'s cores (:class:`FastWeightRNN`): ``actor_read_ratio_<l>``, ‖g ⊙ A(t)h‖ / ‖W h + C x + b‖,
  both centred — 0 when the memory is silent, ≫ 1 when it drowns the input;
  ``actor_gate_abs_<l>``, ``actor_decay_<l>``, ``actor_fast_lr_<l>``: mean |g|, λ and η.

Each core says what it reports through :meth:`~fw_agents.cores.RecurrentCore.memory_diagnostics`;
cores that report nothing (the LSTM, the GRU, …) are skipped.
"""

from __future__ import annotations

import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback

from fw_agents.policies import CoreAdapter


def rollout_memory_stats(model: RecurrentPPO, max_envs: int = 4) -> dict[str, float]:
    """The memory diagnostics of the actor's and critic's cores on ``model``'s latest rollout.

    Call it after a rollout and before the update (the buffer is then in time-major order).
    """
    policy, buffer = model.policy, model.rollout_buffer
    n_envs = min(max_envs, buffer.n_envs)
    device = policy.device

    def first_envs(array: np.ndarray) -> torch.Tensor:  # (T, n_envs, ...) -> (T * n, ...)
        part = array[:, :n_envs]
        return torch.as_tensor(part.reshape(-1, *part.shape[2:]), device=device)

    obs = buffer.observations
    obs_t = {k: first_envs(v) for k, v in obs.items()} if isinstance(obs, dict) else first_envs(obs)
    starts = torch.as_tensor(buffer.episode_starts[:, :n_envs], dtype=torch.float32, device=device)
    stats: dict[str, float] = {}
    with torch.no_grad():
        features = policy.extract_features(obs_t)
        pi_features, vf_features = features if isinstance(features, tuple) else (features, features)
        roles = (
            ("actor", policy.lstm_actor, pi_features, (buffer.hidden_states_pi, buffer.cell_states_pi)),
            ("critic", policy.lstm_critic, vf_features, (buffer.hidden_states_vf, buffer.cell_states_vf)),
        )
        for role, adapter, feats, stored in roles:
            if not isinstance(adapter, CoreAdapter):  # sb3-contrib's own LSTM
                continue
            if role == "critic" and adapter is policy.lstm_actor and feats is pi_features:
                continue  # a shared core (``shared_core``) on shared features: the actor's figures
            x = feats.reshape(buffer.buffer_size, n_envs, -1)
            packed = tuple(torch.as_tensor(s[0][:, :n_envs], dtype=x.dtype, device=device) for s in stored)
            state = adapter.to_core_state(packed)
            for key, value in adapter.core.memory_diagnostics(x, state, starts).items():
                name, layer = key.split("/")
                stats[f"{role}_{name}_{layer}"] = value
    return stats


class MemoryDiagnostics(BaseCallback):
    """Log :func:`rollout_memory_stats` to TensorBoard (``memory/…``) every ``every`` rollouts."""

    def __init__(self, every: int = 10, max_envs: int = 4) -> None:
        super().__init__()
        self.every = every
        self.max_envs = max_envs
        self.rollouts = 0

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.rollouts % self.every == 0:
            for key, value in rollout_memory_stats(self.model, self.max_envs).items():
                self.logger.record(f"memory/{key}", value)
        self.rollouts += 1
