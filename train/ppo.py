"""Train a recurrent agent with sb3-contrib's RecurrentPPO.

    python -m train.ppo --env MemoryCatch                 # fast weights, defaults from hyperparams.yml
    python -m train.ppo --env MemoryCatch --core lstm --seed 1 --timesteps 200000
    python -m train.ppo --env MiniGrid-MemoryS7-v0 --hyperparams learning_rate:0.0003 policy_kwargs.core_kwargs.heads:8
    python -m train.ppo --resume runs/MemoryCatch-v0_fw_seed0

Ctrl-C stops at the next env step (twice: at once), saves a checkpoint (exit code 130);
--resume continues from the latest checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from fw_agents.config import parse_key_values
from fw_agents.cores import available_cores, core_name
from fw_agents.errors import UsageError
from fw_agents.run_folder import RunSpec, prepare_run, read_config, resume_point, write_config
from fw_agents.training import train
from train._cli import run_cli

# every run default is written once, in RunSpec; the parser reads it from there
DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunSpec) if f.default is not dataclasses.MISSING}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.ppo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--env", help="short name (MemoryCatch) or any registered Gymnasium id")
    p.add_argument("--core", "--policy", dest="core", default=DEFAULTS["core"],
                   help=f"recurrent core: {', '.join(available_cores())} (default fw, the alias of the package's "
                        f"default {core_name('fw')}; --policy: old name, kept for one release)")  # fmt: skip
    p.add_argument("--timesteps", type=int, help="total env steps (default: hyperparams.yml)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--n-envs", type=int, help="parallel envs (default: hyperparams.yml)")
    p.add_argument("--vec-env", choices=["dummy", "subproc"], default=DEFAULTS["vec_env"])
    p.add_argument(
        "--hyperparams", nargs="*", action="extend", metavar="KEY:VALUE", help="override hyperparams.yml entries"
    )
    p.add_argument(
        "--env-kwargs", nargs="*", action="extend", metavar="KEY:VALUE", help="keyword arguments for the env"
    )
    p.add_argument(
        "--gym-packages", nargs="*", action="extend", default=[], metavar="PKG", help="modules to import first"
    )
    p.add_argument("--log-folder", type=Path, default=DEFAULTS["log_folder"])
    p.add_argument("--run-name", help="default: <env-id>_<policy>_seed<seed>")
    p.add_argument(
        "--eval-freq",
        type=int,
        default=DEFAULTS["eval_freq"],
        help="evaluate every N env steps (0: the final one only)",
    )
    p.add_argument("--save-freq", type=int, default=DEFAULTS["save_freq"], help="checkpoint every N env steps")
    p.add_argument("--resume", type=Path, metavar="RUN", help="continue a run folder from its latest checkpoint")
    p.add_argument("--device", default=DEFAULTS["device"])
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder of the same name")
    p.add_argument("--no-progress-bar", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.resume is not None:
        run_dir = args.resume
        config = read_config(run_dir)
        point = resume_point(run_dir)
        if point is None:
            raise UsageError(f"nothing to resume in {run_dir}: no checkpoint in {run_dir / 'checkpoints'}")
        checkpoint, steps = point
        target = args.timesteps if args.timesteps is not None else config["n_timesteps"]
        if steps >= target:
            raise UsageError(f"{run_dir} has finished: {checkpoint.name} holds {steps:,} of the {target:,} steps asked "
                             "for; pass a larger --timesteps to train it further")  # fmt: skip
        if target != config["n_timesteps"]:
            config["n_timesteps"] = target
            write_config(run_dir, config)
        print(f"resuming {run_dir} from {checkpoint.name} ({steps:,} steps) to {target:,} steps")
    else:
        if not args.env:
            raise UsageError("--env is required (or --resume RUN)")
        # every RunSpec field has a flag of the same name; the key-value flags are parsed first
        given = {f.name: getattr(args, f.name) for f in dataclasses.fields(RunSpec)}
        given["hyperparams"] = parse_key_values(args.hyperparams, "--hyperparams")
        given["env_kwargs"] = parse_key_values(args.env_kwargs, "--env-kwargs")
        spec = RunSpec(**given)
        run_dir, config = prepare_run(spec)
        checkpoint = None
        print(f"training {config['core']} on {config['env_id']} for {config['n_timesteps']} steps -> {run_dir}")
    try:
        model = train(run_dir, config, resume_from=checkpoint, progress_bar=not args.no_progress_bar)
    except KeyboardInterrupt:
        print(f"resume with: python -m train.ppo --resume {run_dir}", file=sys.stderr)
        return 130
    print(f"done: {model.num_timesteps} steps; model saved to {run_dir / 'model.zip'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
