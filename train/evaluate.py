"""Evaluate a saved policy: mean ± std return, mean length and the success (catch) rate.

python -m train.evaluate runs/MemoryCatch-v0_fw_seed0            # a run folder (its model.zip)
python -m train.evaluate path/to/model.zip --env MemoryCatch      # a bare zip needs --env
python -m train.evaluate RUN --episodes 1000 --stochastic --json results.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fw_agents.config import parse_key_values
from fw_agents.errors import UsageError
from fw_agents.evaluation import run_episodes
from fw_agents.run_folder import find_model, load_model, play_env
from fw_agents.vec_env import import_gym_packages
from train._cli import run_cli, writable_file


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("model", help="run folder or model .zip")
    p.add_argument("--episodes", type=int, default=200)
    add_action_choice(p)
    p.add_argument("--seed", type=int, default=12345, help="seed of the evaluation episodes")
    p.add_argument("--best", action="store_true", help="use the run's best_model.zip")
    p.add_argument("--env", help="env for a bare .zip (default: the run's env)")
    p.add_argument("--env-kwargs", nargs="*", metavar="KEY:VALUE")
    p.add_argument("--gym-packages", nargs="*", default=[])
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return p


def add_action_choice(p: argparse.ArgumentParser) -> None:
    """``--stochastic`` / ``--deterministic``; neither: the run's ``eval_deterministic`` setting."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--stochastic", action="store_const", const=False, dest="deterministic",
                       help="sample actions (default: as the run's periodic evaluation)")  # fmt: skip
    group.add_argument("--deterministic", action="store_const", const=True, dest="deterministic",
                       help="take the most likely action (the default of every section)")  # fmt: skip


def deterministic(args: argparse.Namespace, config: dict) -> bool:
    """The flags' choice, else the run's ``eval_deterministic`` (True where the run does not say)."""
    return args.deterministic if args.deterministic is not None else bool(config.get("eval_deterministic", True))


def resolve_env_config(model_arg: str, best: bool, env: str | None, env_kwargs: list[str] | None,
                       gym_packages: list[str]) -> tuple[Path, dict]:  # fmt: skip
    """The model path and the env configuration (the run's, overridden by the flags)."""
    path, run_config = find_model(model_arg, best=best)
    config = dict(run_config or {})
    if env:
        from envs import resolve_env_id

        import_gym_packages(gym_packages)
        try:
            config["env_id"] = resolve_env_id(env)
        except ValueError as err:
            raise UsageError(str(err)) from err
    if "env_id" not in config:
        raise UsageError(f"{path} has no run folder with a {'config.yml'}: pass --env to say which env to use")
    config["env_kwargs"] = {**(config.get("env_kwargs") or {}), **parse_key_values(env_kwargs, "--env-kwargs")}
    config["gym_packages"] = list(config.get("gym_packages", [])) + list(gym_packages)
    return path, config


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
    if args.json:
        writable_file(args.json, "--json")
    path, config = resolve_env_config(args.model, args.best, args.env, args.env_kwargs, args.gym_packages)
    model = load_model(path, device="cpu")
    env = play_env(config, path)
    result = run_episodes(model, env, args.episodes, deterministic=deterministic(args, config), seed=args.seed)
    print(f"{path} on {config['env_id']}: {result.summary()}")
    if args.json:
        args.json.write_text(json.dumps({"model": str(path), "env_id": config["env_id"], **result.as_dict()}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
