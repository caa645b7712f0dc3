"""Vectorised training and evaluation envs from a run configuration (dummy or subprocess workers)."""

from __future__ import annotations

import importlib
import signal
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecNormalize

from fw_agents.errors import UsageError


def import_gym_packages(packages: list[str]) -> None:
    for package in packages:
        try:
            importlib.import_module(package)
        except ImportError as err:
            raise UsageError(f"--gym-packages: cannot import {package!r}: {err}") from err


def _make_single_env(env_id: str, env_kwargs: dict[str, Any], gym_packages: list[str], **extra: Any) -> gym.Env:
    # Runs in subprocess workers too: import what registers the env there as well.
    import_gym_packages(gym_packages)
    from envs import make_env

    return make_env(env_id, **env_kwargs, **extra)


def env_factory(config: dict[str, Any], **extra: Any) -> partial:
    """A picklable zero-argument env constructor for the run's env."""
    return partial(
        _make_single_env, config["env_id"], config.get("env_kwargs") or {}, config.get("gym_packages", []), **extra
    )


def _in_worker(factory: Callable[[], gym.Env]) -> gym.Env:
    # Ctrl-C reaches the whole process group; the main process decides when to stop and then
    # closes the workers, so they must not die under it mid-step.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return factory()


def make_vec(config: dict[str, Any], n_envs: int, seed: int, monitor_dir: Path | None, vec_env: str) -> VecEnv:
    subproc = vec_env == "subproc" and n_envs > 1
    factory = env_factory(config)
    return make_vec_env(
        partial(_in_worker, factory) if subproc else factory,
        n_envs=n_envs,
        seed=seed,
        monitor_dir=str(monitor_dir) if monitor_dir else None,
        vec_env_cls=SubprocVecEnv if subproc else DummyVecEnv,
    )


def normalize_kwargs(config: dict[str, Any]) -> dict[str, Any] | None:
    """VecNormalize's keyword arguments from the ``normalize`` setting (``None``: no normalisation)."""
    value = config.get("normalize", False)
    if value is True:
        return {}
    if value is False or value is None:
        return None
    if isinstance(value, dict):
        return dict(value)
    raise UsageError(f"hyperparameter normalize must be true, false or VecNormalize's arguments, got {value!r}")


def normalized(env: VecEnv, config: dict[str, Any], stats: Path | None = None, training: bool = True) -> VecEnv:
    """``env`` under VecNormalize when the run asks for it: fresh statistics, or those saved at
    ``stats``; an evaluation env (``training=False``) keeps its statistics fixed and its rewards raw."""
    kwargs = normalize_kwargs(config)
    if kwargs is None:
        return env
    if stats is not None:
        if not Path(stats).exists():
            raise UsageError(f"the run normalises its env but {stats} is missing")
        env = VecNormalize.load(str(stats), env)
        env.training = training
        return env
    if not training:
        kwargs.update(training=False, norm_reward=False)
    return VecNormalize(env, **kwargs)
