"""Why the paper's fast-weight memory hurts: how loud and how selective its read-out is.

    python benchmarks/memory_diagnosis.py RUN [RUN ...] [--episodes 200]

Each RUN is a trained DelayedRecall run folder (``train.ppo``); the actor's fast-weight core is
replayed on fresh episodes (env seeds 20,000 + i, the policy's own deterministic actions do
not matter: only the query's action is scored and the inputs do not depend on actions), once
with the trained weights and once with a freshly initialised core of the same configuration.
At the query step t (the step whose input carries the query flag), with v = relu(W h(t) + C x(t) + b)
the read-out is g ⊙ N(A(t) v), A(t) v = Σ_j η λ^{t−j} h(j) (h(j)·v) over the episode's hidden
states (N: the read-out's own normalisation where the core has one). Reported:

* **read / input**: ‖g ⊙ N(A(t)v)‖ / ‖W h(t) + C x(t) + b‖, both centred over the units (the layer norm
  removes the mean) — how much the memory drowns the input at the query;
* **cue share**: the cue step's part of the read-out, |η λ^{t−j} h(j)·v|·‖h(j)‖ for j the
  hidden state that first saw the cue, over the sum of that quantity over all j — uniform
  attention over the t + 1 stored states would give 1/(t + 1);
* **positive scores**: the fraction of the scores h(j)·v that are > 0 (ReLU states: all of them);
* **success, memory on / η = 0**: the trained agent's deterministic success rate on fresh episodes,
  then with the fast-weight read-out switched off (η = 0 in its cores, nothing else changed) —
  does the answer come from the memory?

For runs of the default core (:class:`FastWeightLSTM`) the same columns mean: **read / input**,
‖g ⊙ N(r)‖ / ‖h‖ at the query (the memory's share of the output against the LSTM's); **cue share**,
Σ_heads |w_0| / Σ_heads Σ_j |w_j| with r = Σ_j w_j v(j) (:meth:`FastWeightLSTM.read_weights`; the
cue is written at step 0); **positive scores**, the fraction of the w_j that are > 0; and the
memory is switched off by setting the read-out gate g to 0.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch
from _common import episode_inputs, write_section
from sb3_contrib import RecurrentPPO

import envs
from fw_agents.cores.fast_weights import FastWeightRNN
from fw_agents.cores.fw_memory import FastWeightLSTM
from fw_agents.evaluation import run_episodes
from fw_agents.run_folder import find_model, load_model


@torch.no_grad()
def query_readout(core: FastWeightRNN, x: torch.Tensor) -> tuple[float, float, float]:
    """(read / input, cue share, fraction of positive scores) at the last step of ``x`` (T, F)."""
    hs = [torch.zeros(core.hidden_size)]  # hs[j] = h(j); h(0) = 0, h(1) first saw the cue
    y, _ = core(x[:, None, :])
    hs += list(y[:, 0])
    t = x.shape[0] - 1  # the query step
    lam, eta = float(core.decay_of(0)), float(core.fast_lr_of(0))
    z = core.W[0] @ hs[t] + core.C[0] @ x[t] + core.bias[0]
    v = torch.relu(z)
    past = torch.stack(hs[: t + 1])  # h(0) … h(t)
    scores = past @ v
    weights = eta * lam ** torch.arange(t, -1, -1, dtype=torch.float32) * scores
    read = core.gated_read(0, weights @ past)  # as it joins the input term: normalised (if so), gated
    centred = lambda u: (u - u.mean()).norm()  # noqa: E731
    mass = weights.abs() * past.norm(dim=1)
    return float(centred(read) / centred(z)), float(mass[1] / mass.sum()), float((scores[1:] > 0).float().mean())


@torch.no_grad()
def query_readout_lstm(core: FastWeightLSTM, x: torch.Tensor) -> tuple[float, float, float]:
    """The same three figures for the default core at the last step of ``x`` (T, F)."""
    stats = core.memory_diagnostics(x[-1:, None, :], core(x[:-1, None, :])[1]) if x.shape[0] > 1 else None
    weights = core.read_weights(x)  # (heads, T): r = Σ_j w_j v(j) per head
    mass = weights.abs().sum(0)
    ratio = stats["read_ratio/0"] if stats else float("nan")
    return ratio, float(mass[0] / mass.sum()), float((weights > 0).float().mean())


def load_run(run: Path) -> tuple[RecurrentPPO, str]:
    path, config = find_model(run)
    model = load_model(path, device="cpu")
    core = model.policy.lstm_actor.core
    rnn = isinstance(core, FastWeightRNN) and core.inner_steps == 1
    if not (rnn or isinstance(core, FastWeightLSTM)) or core.num_layers != 1:
        raise SystemExit(f"error: {run} is not a one-layer (S = 1) fast-weight run")
    return model, config["env_id"]


def success_with_and_without_memory(model: RecurrentPPO, env_id: str, episodes: int) -> tuple[float, float]:
    """Deterministic success rate on fresh episodes (seeds 30,000 + …), then again with η = 0 in
    the actor's and critic's cores: the fast-weight read-out switched off, all else unchanged."""
    env = envs.make_env(env_id)
    with_memory = run_episodes(model, env, episodes, seed=30_000).success_rate
    for adapter in (model.policy.lstm_actor, model.policy.lstm_critic):
        if adapter is None:
            continue
        if isinstance(adapter.core, FastWeightLSTM):
            with torch.no_grad():
                for gate in adapter.core.gate:
                    gate.zero_()
        else:
            adapter.core.fast_lr = 0.0
    without = run_episodes(model, env, episodes, seed=30_000).success_rate
    return with_memory, without


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="DelayedRecall run folders")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--section", default="memory-diagnosis", help="RESULTS.md section to write")
    args = parser.parse_args()
    rows = [
        "| run | weights | read / input at the query | cue share (uniform = 1/(t+1)) | positive scores "
        "| success (memory on / off: η = 0, or g = 0 for fw) |",
        "|---|---|---|---|---|---|",
    ]
    kinds = set()
    for run in args.runs:
        model, env_id = load_run(run)
        kinds.add(type(model.policy.lstm_actor.core).__name__)
        trained = model.policy.lstm_actor.core
        torch.manual_seed(0)
        fresh = type(trained)(trained.input_size, trained.hidden_size, **trained.settings())
        env = envs.make_env(env_id)  # DelayedRecall's inputs do not depend on the actions
        inputs = [episode_inputs(env, 20_000 + i) for i in range(args.episodes)]
        t = inputs[0].shape[0] - 1
        for label, core in (("trained", trained), ("at initialisation", fresh)):
            readout = query_readout_lstm if isinstance(core, FastWeightLSTM) else query_readout
            stats = np.array([readout(core, x) for x in inputs])
            ratio, share, positive = (statistics.mean(stats[:, i]) for i in range(3))
            success = "{:.2f} / {:.2f}".format(*success_with_and_without_memory(model, env_id, args.episodes)) \
                if core is trained else "—"  # fmt: skip
            rows.append(f"| {run.name} | {label} | {ratio:.2f} | {share:.5f} (uniform {1 / (t + 1):.5f}) | "
                        f"{positive:.2f} | {success} |")  # fmt: skip
            print(rows[-1], flush=True)
    body = (
        "## Diagnosis: how loud and how selective the fast-weight read-out is"
        + (" (the default core)" if kinds == {"FastWeightLSTM"} else "")
        + "\n\n"
        + "\n".join(rows)
        + f"\n\n`python benchmarks/memory_diagnosis.py {' '.join(str(r) for r in args.runs)} --episodes "
        f"{args.episodes}`: the actor's core replayed on {args.episodes} fresh episodes; measured at the query step."
    )
    write_section(args.section, body)


if __name__ == "__main__":
    main()
