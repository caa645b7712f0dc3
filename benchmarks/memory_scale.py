"""How loud is the fast-weight memory at initialisation? ‖A(t)h‖ against ‖Wh + Cx‖ on MemoryCatch.

    python benchmarks/memory_scale.py [--etas 0.5 0.1 0.02] [--episodes 200] [--hidden 64]

Inside the layer norm the fast-weight core adds the memory read-out A(t)h_s to the slow input
Wh(t) + Cx(t) + b. With ReLU hidden units ‖h‖² ≈ H/2, so the read-out grows like
η·‖h‖²/(1 − λ) while the input term stays small, and the layer norm then sees mostly memory.
This script measures the ratio at initialisation (the core's own ``reset_parameters``) along
random-action MemoryCatch-v0 episodes (the policy feeds the flattened screen to the core):
the norm of the centred read-out over the norm of the centred input term (centred because the
layer norm removes the mean), mean over episodes, at a few time steps. Plain loop, S = 1.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
import torch
from _common import episode_inputs, write_section

import envs  # noqa: F401  (registers MemoryCatch-v0)
from fw_agents import FastWeightRNN

STEPS = (1, 2, 4, 8, 14)


def ratios(core: FastWeightRNN, x: torch.Tensor) -> list[float]:
    """‖centred A(t)h_0‖ / ‖centred Wh(t) + Cx(t+1) + b‖ for every step of one episode."""
    W, C, b = core.W[0], core.C[0], core.bias[0]
    h = torch.zeros(core.hidden_size)
    A = torch.zeros(core.hidden_size, core.hidden_size)
    out = []
    for x_t in x:
        slow = W @ h + C @ x_t + b
        memory = A @ torch.relu(slow)
        out.append(float((memory - memory.mean()).norm() / (slow - slow.mean()).norm()))
        z = slow + memory
        z = (z - z.mean()) / (z.std(unbiased=False) + 1e-5)
        h = torch.relu(core.ln_gain[0] * z + core.ln_bias[0])
        A = core.decay * A + core.fast_lr * torch.outer(h, h)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--etas", type=float, nargs="+", default=[0.5, 0.1, 0.02])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args()
    torch.manual_seed(0)
    env = gym.make("MemoryCatch-v0")
    env.action_space.seed(0)
    inputs = [episode_inputs(env, seed) for seed in range(args.episodes)]
    rows = ["| η | " + " | ".join(f"t = {t}" for t in STEPS) + " |", "|---|" + "---|" * len(STEPS)]
    with torch.no_grad():
        for eta in args.etas:
            per_episode = []
            for seed, x in enumerate(inputs):
                torch.manual_seed(seed)  # a fresh initialisation per episode
                per_episode.append(ratios(FastWeightRNN(x.shape[1], args.hidden, fast_lr=eta, decay=0.95), x))
            means = np.mean([[r[t] for t in STEPS] for r in per_episode], axis=0)
            rows.append(f"| {eta} | " + " | ".join(f"{m:.1f}" for m in means) + " |")
    body = (
        "## Fast-weight memory against the input at initialisation\n\n"
        f"‖A(t)h‖ / ‖Wh + Cx + b‖ (both centred), H = {args.hidden}, λ = 0.95, MemoryCatch-v0 with random "
        f"actions, mean over {args.episodes} episodes (a fresh initialisation each).\n\n" + "\n".join(rows) + "\n\n"
        f"`python benchmarks/memory_scale.py --etas {' '.join(map(str, args.etas))} --episodes {args.episodes} "
        f"--hidden {args.hidden}`"
    )
    print(body)
    write_section("memory-scale", body)


if __name__ == "__main__":
    main()
