"""Record rollouts of a saved policy as a GIF or MP4.

    python -m train.video runs/MemoryCatch-v0_fw_seed0 --out rollout.gif
    python -m train.video model.zip --env MemoryCatch --out rollout.mp4 --episodes 5

Panels: the true state | what the agent observed | (fast weights) the attention weights of
its memory read over the past steps of the episode.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fw_agents.errors import UsageError
from fw_agents.run_folder import load_model, play_env
from fw_agents.video import record, write
from train._cli import run_cli, writable_file
from train.evaluate import add_action_choice, deterministic, resolve_env_config


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.video", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("model", help="run folder or model .zip")
    p.add_argument("--out", type=Path, required=True, help="FILE.gif or FILE.mp4")
    p.add_argument("--episodes", type=int, default=3)
    add_action_choice(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=int, default=4)
    p.add_argument("--best", action="store_true", help="use the run's best_model.zip")
    p.add_argument("--env", help="env for a bare .zip (default: the run's env)")
    p.add_argument("--env-kwargs", nargs="*", metavar="KEY:VALUE")
    p.add_argument("--gym-packages", nargs="*", default=[])
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.out.suffix.lower() not in (".gif", ".mp4"):
        raise UsageError(f"--out must end in .gif or .mp4, got {args.out.name!r}")
    if args.episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
    writable_file(args.out, "--out")
    path, config = resolve_env_config(args.model, args.best, args.env, args.env_kwargs, args.gym_packages)
    model = load_model(path, device="cpu")
    env = play_env(config, path, render_mode="rgb_array")
    frames, returns = record(model, env, args.episodes, deterministic=deterministic(args, config), seed=args.seed)
    write(frames, args.out, fps=args.fps)
    print(f"wrote {args.out}: {args.episodes} episodes, {len(frames)} frames, returns {returns}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
