"""Does a MiniGrid-Memory policy carry the cue to the split? Linear probes for the cue's type.

    python benchmarks/minigrid_cue_probe.py RUN_OR_ZIP [--episodes 400] [--deterministic] [--look]

Plays held-out episodes of the run's Memory env (MiniGrid-MemoryS7 / S9 / …) with its model and,
at every step, records whether the cue (the key or ball in the start room) has been in the agent's
view so far. Each episode is then run through the actor's extractor and core from the empty
memory, and a logistic regression (trained on 3/4 of the episodes, scored on the rest) reads the
cue's type from: the extractor's features, the core's output (what the policy heads read) and,
for the default core, its memory read N(r). Probed at the step the cue first comes into view and
at the split (the corridor's end), with the cue seen before and never seen (there it must be
chance: a check on the probe). For the default core it also prints how much the read at each
episode's last step draws on the cue's write (``core.read_weights``, per head), and what the add
rule would draw with the same keys, queries and write strengths: whether the delta rule's
replacement erased it. With ``--look`` it also plays the episodes again with a scripted opening
(turn left, turn right: the cue comes into view wherever the agent starts, and it faces east again)
and prints success with and without it, split by whether the cue was in view at reset: whether
the policy uses a cue it sees from anywhere, or only from where it was in view at reset. Printed only.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from minigrid.core.actions import Actions
from sklearn.linear_model import LogisticRegression

from envs.make import is_minigrid
from fw_agents.cores import FastWeightLSTM
from fw_agents.errors import UsageError
from fw_agents.evaluation import Episode, play
from fw_agents.run_folder import find_model, load_model, play_env


def cue_cell(base) -> tuple[int, int]:
    """Where the cue lies: the key or ball left of the corridor (MemoryEnv puts it in the start room)."""
    grid = base.grid
    cells = [(x, y) for x in range(grid.width) for y in range(grid.height)
             if grid.get(x, y) is not None and grid.get(x, y).type in ("key", "ball") and x <= 2]  # fmt: skip
    if len(cells) != 1:
        raise UsageError("not a MiniGrid Memory env: no single cue (key or ball) in the start room")
    return cells[0]


def features_of(policy, obs_list: list[np.ndarray]) -> torch.Tensor:
    """The actor's features at every step of one episode, (T, F)."""
    with torch.no_grad():
        return policy.extract_features(torch.as_tensor(np.stack(obs_list)), policy.pi_features_extractor)


def episode_codes(policy, features: torch.Tensor) -> dict[str, np.ndarray]:
    """Features, core output and (default core) memory read at every step of one episode, (T, ·) each."""
    with torch.no_grad():
        core = policy.lstm_actor.core
        x = features[:, None]
        out, _ = core(x)
        codes = {"features": features.numpy(), "core output": out[:, 0].numpy()}
        if isinstance(core, FastWeightLSTM) and core.num_layers == 1:
            zeros = x.new_zeros(1, core.hidden_size)
            hs, _, _ = core._slow(0, x, zeros, zeros, None)
            read, _ = core.memory(core.project(0, hs, x), core.initial_state(1)[2][0], None)
            codes["memory read"] = read[:, 0].numpy()
    return codes


def cue_read_weights(core: FastWeightLSTM, x: torch.Tensor, cue_step: int) -> tuple[np.ndarray, np.ndarray]:
    """|w| per head that the last step's read of an episode with features ``x`` (T, F) puts on the
    write of ``cue_step``: as the core runs (its rule) and as the add rule would (M_j = λ^{T−1−j} I,
    the same κ, β and q)."""
    with torch.no_grad():
        as_run = core.read_weights(x)[:, cue_step].abs()
        zeros = x.new_zeros(1, core.hidden_size)
        hs, _, _ = core._slow(0, x[:, None], zeros, zeros, None)
        q, k, _, w = core.projections(0, hs, x[:, None])
        kappa = torch.nn.functional.normalize(k[cue_step, 0], dim=-1, eps=core.eps)
        decay = core.lam(x) ** (x.shape[0] - 1 - cue_step)
        add = torch.sigmoid(w[cue_step, 0]) * (kappa * q[-1, 0]).sum(-1) * decay
    return as_run.numpy(), add.abs().numpy()


def played_from_reset_view(model, env, episodes: int, deterministic: bool, seed: int,
                           first_actions=()) -> tuple[list[Episode], np.ndarray]:  # fmt: skip
    """``play``'s episodes, and for each whether the cue was in view at its reset."""
    base = env.unwrapped
    in_view: list[bool] = []

    def before(obs, state) -> None:
        if state is None:
            in_view.append(bool(base.in_view(*cue_cell(base))))

    played = list(play(model, env, episodes, deterministic, seed, before, first_actions=first_actions))
    return played, np.array(in_view)


def look_table(model, env, own: list[Episode], own_in_view: np.ndarray, deterministic: bool, seed: int) -> None:
    """Success with the policy's own opening (``own``, played from ``seed``, and whether the cue was
    in view at each one's reset) and with a scripted look (left, right) on the same layouts, by
    whether the cue was in view at reset."""
    scripted = played_from_reset_view(model, env, len(own), deterministic, seed, (Actions.left, Actions.right))
    print("\n| opening | success, cue in view at reset | success, cue not in view at reset | mean length |")
    print("|---|---|---|---|")
    for label, (played, seen) in [("the policy's own", (own, own_in_view)), ("scripted: left, right", scripted)]:
        success = np.array([ep.total_return > 0 for ep in played])
        cells = [f"{success[mask].mean():.2f} ({mask.sum()})" if mask.any() else "–" for mask in (seen, ~seen)]
        print(f"| {label} | {cells[0]} | {cells[1]} | {np.mean([ep.length for ep in played]):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run folder or a model .zip inside one")
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--deterministic", action="store_true", help="most likely actions (default: sampled)")
    parser.add_argument("--seed", type=int, default=10_000)
    parser.add_argument("--look", action="store_true", help="also play with a scripted look at the cue (left, right)")
    args = parser.parse_args()
    path, config = find_model(args.run)
    if config is None or not is_minigrid(config["env_id"]) or "Memory" not in config["env_id"]:
        raise SystemExit(f"error: {args.run} is not a run of a MiniGrid Memory env")
    model = load_model(path, device="cpu")
    env = play_env(config, path)
    base = env.unwrapped
    steps: list[tuple[int, bool, bool, int]] = []  # (episode, cue is a key, seen so far, agent x)
    episodes: list[list[np.ndarray]] = []
    current: dict = {"obs": [], "seen": False, "cue": None}

    def before(obs, state) -> None:
        if state is None:  # an episode starts
            current.update(obs=[], seen=False, cue=cue_cell(base))
            episodes.append(current["obs"])
        current["seen"] = current["seen"] or base.in_view(*current["cue"])
        current["obs"].append(np.asarray(obs, dtype=np.float32))
        is_key = base.grid.get(*current["cue"]).type == "key"
        steps.append((len(episodes) - 1, is_key, current["seen"], int(base.agent_pos[0])))

    played = list(play(model, env, args.episodes, args.deterministic, args.seed, before))
    successes = [ep.total_return > 0 for ep in played]
    features = [features_of(model.policy, obs) for obs in episodes]
    codes = [episode_codes(model.policy, x) for x in features]
    names = list(codes[0])
    rows = {name: np.concatenate([c[name] for c in codes]) for name in names}
    ep, is_key, seen, xs = (np.array(col) for col in zip(*steps, strict=True))
    seen_before = np.concatenate([[False], seen[:-1] & (ep[1:] == ep[:-1])])  # at the episode's previous step
    first_seen = seen & ~seen_before
    split = xs >= xs.max() - 1
    mode = "most likely" if args.deterministic else "sampled"
    cue_seen = np.mean([seen[ep == e].any() for e in range(len(episodes))])
    print(f"{path}: {config['env_id']}, core {config.get('core')}, {args.episodes} episodes ({mode} actions), "
          f"success {np.mean(successes):.2f}; the cue seen in {cue_seen:.2f} of them")  # fmt: skip
    print()
    print("| where | steps | " + " | ".join(f"probe on {name}" for name in names) + " | chance |")
    print("|---|---|" + "---|" * (len(names) + 1))
    for label, mask in [("the cue first in view", first_seen), ("at the split, cue seen before", split & seen),
                        ("at the split, cue never seen", split & ~seen)]:  # fmt: skip
        test = mask & (ep % 4 == 0)
        train = mask & (ep % 4 != 0)
        if train.sum() < 20 or test.sum() < 10 or len(set(is_key[train])) < 2:
            print(f"| {label} | {mask.sum()} | " + " | ".join("too few" for _ in names) + " | – |")
            continue
        probes = [LogisticRegression(max_iter=2000).fit(rows[n][train], is_key[train]) for n in names]
        scores = [probe.score(rows[n][test], is_key[test]) for probe, n in zip(probes, names, strict=True)]
        chance = max(is_key[test].mean(), 1 - is_key[test].mean())
        print(f"| {label} | {mask.sum()} | " + " | ".join(f"{s:.2f}" for s in scores) + f" | {chance:.2f} |")
    if "memory read" in names:
        weights = []
        core = model.policy.lstm_actor.core
        for e, x in enumerate(features):
            seen_at = np.flatnonzero(seen[ep == e])
            if len(seen_at) and len(x) - 1 - seen_at[0] >= 3:  # the cue seen at least 3 steps before the end
                weights.append(cue_read_weights(core, x, int(seen_at[0])))
        if weights:
            as_run, add = (np.mean([w[i] for w in weights], axis=0) for i in (0, 1))
            run_text, add_text = (" / ".join(f"{v:.3f}" for v in values) for values in (as_run, add))
            print(
                f"\nThe last step's read on the cue's write, |w| per head ({len(weights)} episodes with the cue seen "
                f"at least 3 steps before the end): as run ({core.rule} rule) {run_text}; "
                f"the add rule would give {add_text}"
            )
    if args.look:
        at_reset = seen[np.concatenate([[True], ep[1:] != ep[:-1]])]  # each episode's first step
        look_table(model, env, played, at_reset, args.deterministic, args.seed)


if __name__ == "__main__":
    main()
