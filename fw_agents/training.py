"""Build and train a run: the model, its callbacks, the loop that survives Ctrl-C. ``train.ppo`` is its CLI.

Configuration lives in :mod:`fw_agents.config`, env construction in :mod:`fw_agents.vec_env`, run
folders and loading in :mod:`fw_agents.run_folder`, callbacks in :mod:`fw_agents.callbacks`.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sb3_contrib import RecurrentPPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.vec_env import VecEnv

from fw_agents.buffers import install_buffer
from fw_agents.callbacks import CheckpointEvery, EntropySchedule, RunEvaluation, SaveBest, StopOnInterrupt
from fw_agents.config import (
    LinearSchedule,
    build_policy_kwargs,
    by_success,
    entropy_schedule,
    policy_class_for,
    ppo_kwargs,
)
from fw_agents.diagnostics import MemoryDiagnostics
from fw_agents.errors import UsageError
from fw_agents.run_folder import (
    SUMMARY_FILE,
    atomic_save,
    atomic_write_text,
    load_model,
    normalization_path,
    save_checkpoint,
)
from fw_agents.vec_env import make_vec, normalized

# Models saved before the split pickled their schedule as fw_agents.training.LinearSchedule.
__all__ = ["LinearSchedule", "build_model", "callbacks", "train"]


# ----------------------------------------------------------------- runs
def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def build_model(config: dict[str, Any], env: VecEnv, run_dir: Path | None = None) -> RecurrentPPO:
    """The untrained RecurrentPPO a run of ``config`` starts from, logging to ``run_dir/tb`` when
    given (a model built only to be looked at needs no run folder)."""
    policy_kwargs = build_policy_kwargs(config.get("policy_kwargs") or {}, config["core"])
    kwargs = ppo_kwargs(config)
    try:
        return RecurrentPPO(
            policy_class_for(env.observation_space),
            env,
            policy_kwargs=policy_kwargs,
            seed=config["seed"],
            device=config["device"],
            tensorboard_log=str(run_dir / "tb") if run_dir is not None else None,
            verbose=0,
            **kwargs,
        )
    except (TypeError, ValueError, AssertionError) as err:
        raise UsageError(f"cannot build the model from the configuration: {err}") from err


def callbacks(config: dict[str, Any], run_dir: Path) -> tuple[CallbackList, VecEnv, RunEvaluation]:
    # held-out seeds; the same wrappers as training (e.g. VecTransposeImage for image observations)
    eval_env = make_vec(config, min(8, config["n_envs"]), config["seed"] + 10_000, run_dir / "eval", config["vec_env"])
    eval_env = normalized(BaseAlgorithm._wrap_env(eval_env, verbose=0), config, training=False)
    evaluation = RunEvaluation(
        eval_env,
        n_eval_episodes=int(config.get("eval_episodes", 100)),
        # in calls (one per vectorised step); 0 leaves only the final evaluation
        eval_freq=max(1, config["eval_freq"] // config["n_envs"]) if config["eval_freq"] > 0 else 0,
        log_path=str(run_dir / "eval"),
        best_model_save_path=None,
        callback_on_new_best=SaveBest(run_dir),
        deterministic=bool(config.get("eval_deterministic", True)),
        verbose=0,
    )
    entropy = entropy_schedule(config)
    extra = [EntropySchedule(entropy, by_success(config), config.get("ent_floor", 0.0))] if entropy is not None else []
    cbs = CallbackList([evaluation, CheckpointEvery(run_dir, config["save_freq"]), MemoryDiagnostics(), *extra])
    return cbs, eval_env, evaluation


def train(
    run_dir: Path,
    config: dict[str, Any],
    resume_from: Path | None = None,
    progress_bar: bool = True,
    log: Callable[[str], None] = _stderr,
) -> RecurrentPPO:
    """Train (or continue) the run; on Ctrl-C save a checkpoint and re-raise KeyboardInterrupt.

    Writes ``summary.json`` (env steps, training wall-clock seconds of this session) at the end.
    """
    started = time.perf_counter()
    fresh = resume_from is None
    env = eval_env = model = None
    stop = StopOnInterrupt(log)
    try:
        try:
            vec_env = config.get("vec_env", "dummy")
            env = make_vec(config, config["n_envs"], config["seed"], run_dir / "monitor", vec_env)
            env = normalized(env, config, None if fresh else normalization_path(resume_from))
            if fresh:
                model = build_model(config, env, run_dir)
            else:
                model = load_model(resume_from, env=env, device=config["device"])
                model.tensorboard_log = str(run_dir / "tb")
            install_buffer(model, config.get("sequence_length"))  # the buffer is not saved: again on a resume
            cbs, eval_env, evaluation = callbacks(config, run_dir)
            remaining = config["n_timesteps"] - model.num_timesteps
            with stop:
                if remaining > 0:
                    model.learn(
                        remaining,
                        callback=CallbackList([stop, cbs]),
                        progress_bar=progress_bar,
                        reset_num_timesteps=fresh,
                        tb_log_name="ppo",
                    )
                if not stop.requested:
                    # every run that ends has a figure for its final model, whatever its budget
                    evaluation.evaluate_final()
        except Exception as err:
            # a failure before the first env step (bad env or policy arguments, an env that cannot
            # reset): one clear message, and a fresh run leaves no folder behind
            if fresh and (model is None or model.num_timesteps == 0):
                shutil.rmtree(run_dir, ignore_errors=True)
                if isinstance(err, UsageError):
                    raise
                raise UsageError(f"cannot start training: {type(err).__name__}: {err}") from err
            raise
        if stop.requested:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        if model is None:  # nothing trained yet
            if fresh:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        path = save_checkpoint(model, run_dir)
        log(f"interrupted at {model.num_timesteps} steps; checkpoint saved to {path}")
        raise
    finally:
        for vec in (env, eval_env):
            try:
                if vec is not None:
                    vec.close()
            except (EOFError, BrokenPipeError, ConnectionResetError):  # workers gone after Ctrl-C
                pass
    atomic_save(model, run_dir / "model.zip")
    summary = {"num_timesteps": int(model.num_timesteps), "wall_seconds": round(time.perf_counter() - started, 1)}
    atomic_write_text(run_dir / SUMMARY_FILE, json.dumps(summary))
    return model
