"""Run folders: what a run is asked to be, its folder, its files, and loading a model back.

A run folder ``<log_folder>/<run_name>/`` holds

    config.yml           the resolved configuration (everything needed to rebuild the run)
    model.zip            the final model
    best_model.zip       the best model by periodic evaluation
    checkpoints/         ckpt_<steps>.zip, also written on Ctrl-C
    monitor/             Monitor CSVs of the training envs (returns, lengths, is_success)
    eval/                evaluations.npz and the eval envs' Monitor CSVs
    tb/                  TensorBoard logs
    vecnormalize.pkl     observation/return statistics, for runs with ``normalize`` (also per checkpoint)

Every file is written to a temporary name and renamed into place (:mod:`fw_agents.atomic`), so an
interruption never leaves a half-written model.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from fw_agents.atomic import atomic_path
from fw_agents.config import check_hyperparams, deep_merge, load_hyperparams, positive_int, read_yaml
from fw_agents.cores import DEFAULT_CORE, available_cores, core_name
from fw_agents.cores.base import ALIASES
from fw_agents.cores.fast_weights import PAPER_SETTINGS
from fw_agents.errors import UsageError
from fw_agents.vec_env import env_factory, import_gym_packages

CONFIG_FILE = "config.yml"
SUMMARY_FILE = "summary.json"


def atomic_save(model: BaseAlgorithm, path: Path) -> Path:
    """Save the model so that ``path`` is never half written (with its VecNormalize statistics, if any)."""
    save_normalization(model, path)
    with atomic_path(path) as tmp:
        model.save(tmp)
    return Path(path)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def checkpoint_steps(path: Path) -> int:
    match = re.fullmatch(r"ckpt_(\d+)\.zip", path.name)
    return int(match.group(1)) if match else -1


def latest_checkpoint(run_dir: Path) -> Path | None:
    checkpoints = sorted((run_dir / "checkpoints").glob("ckpt_*.zip"), key=checkpoint_steps)
    return checkpoints[-1] if checkpoints else None


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """What a run that ended wrote in ``summary.json`` (``num_timesteps``, ``wall_seconds``); ``None``
    for a run that has not ended."""
    path = Path(run_dir) / SUMMARY_FILE
    return json.loads(path.read_text()) if path.exists() else None


def resume_point(run_dir: Path) -> tuple[Path, int] | None:
    """The newest saved model of a run and its env-step count: the final ``model.zip`` of a run
    that ended (its steps from ``summary.json``), else the latest checkpoint; ``None`` if neither."""
    saved = []
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is not None:
        saved.append((checkpoint_steps(checkpoint), checkpoint))
    summary = read_summary(run_dir)
    if (run_dir / "model.zip").exists() and summary is not None:
        saved.append((int(summary["num_timesteps"]), run_dir / "model.zip"))
    if not saved:
        return None
    steps, path = max(saved, key=lambda item: item[0])
    return path, steps


def run_finished(run_dir: Path) -> bool:
    """Whether a run ended with its whole budget: ``summary.json`` records at least the configured
    steps (the small files a suite keeps are enough to tell), or, for runs older than summaries,
    a final ``model.zip``."""
    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    if summary is not None and (run_dir / CONFIG_FILE).exists():
        return summary["num_timesteps"] >= read_config(run_dir).get("n_timesteps", 0)
    return (run_dir / "model.zip").exists()


def save_checkpoint(model: BaseAlgorithm, run_dir: Path) -> Path:
    return atomic_save(model, run_dir / "checkpoints" / f"ckpt_{model.num_timesteps}.zip")


NORMALIZATION_FILE = "vecnormalize.pkl"


def normalization_path(model_path: Path) -> Path:
    """Where the VecNormalize statistics of a saved model live: ``model.zip`` →
    ``vecnormalize.pkl``, ``checkpoints/ckpt_N.zip`` → ``checkpoints/ckpt_N_vecnormalize.pkl``."""
    model_path = Path(model_path)
    if model_path.parent.name == "checkpoints":
        return model_path.with_name(f"{model_path.stem}_{NORMALIZATION_FILE}")
    return model_path.with_name(NORMALIZATION_FILE)


def save_normalization(model: BaseAlgorithm, model_path: Path) -> None:
    """Save the model's VecNormalize statistics beside ``model_path`` (nothing without VecNormalize)."""
    vec_normalize = model.get_vec_normalize_env()
    if vec_normalize is not None:
        with atomic_path(normalization_path(model_path)) as tmp:
            vec_normalize.save(str(tmp))


def observation_normalizer(model_path: Path) -> Callable[[Any], Any] | None:
    """The saved observation normalisation of a model (``None`` if it was trained without one)."""
    path = normalization_path(model_path)
    if not path.exists():
        return None
    import pickle

    with path.open("rb") as handle:
        stats = pickle.load(handle)
    if not stats.norm_obs:
        return None
    return stats.normalize_obs


@dataclass
class RunSpec:
    """What ``train.ppo`` asks for; :func:`prepare_run` turns it into a configuration."""

    env: str
    core: str = DEFAULT_CORE
    timesteps: int | None = None
    seed: int = 0
    n_envs: int | None = None
    vec_env: str = "dummy"
    hyperparams: dict[str, Any] = field(default_factory=dict)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    gym_packages: list[str] = field(default_factory=list)
    log_folder: Path = Path("runs")
    run_name: str | None = None
    eval_freq: int = 25_000
    save_freq: int = 50_000
    device: str = "auto"
    overwrite: bool = False


def prepare_run(spec: RunSpec) -> tuple[Path, dict[str, Any]]:
    """Resolve the configuration and create (or refuse to clobber) the run folder."""
    from envs import resolve_env_id

    if spec.eval_freq != 0:  # 0: no periodic evaluation
        positive_int(spec.eval_freq, "--eval-freq (env steps; 0 for the final evaluation only)")
    positive_int(spec.save_freq, "--save-freq (env steps)")
    import_gym_packages(spec.gym_packages)
    if spec.core not in available_cores():
        raise UsageError(f"unknown policy core {spec.core!r}; known: {', '.join(available_cores())}")
    try:
        env_id = resolve_env_id(spec.env)
    except ValueError as err:
        raise UsageError(str(err)) from err
    core = core_name(spec.core)  # runs record the permanent name, never the alias
    config = deep_merge(load_hyperparams(env_id, core), spec.hyperparams)
    if spec.n_envs is not None:
        config["n_envs"] = spec.n_envs
    if spec.timesteps is not None:
        config["n_timesteps"] = spec.timesteps
    config["env_kwargs"] = deep_merge(config.get("env_kwargs") or {}, spec.env_kwargs)
    check_hyperparams(config)
    config.update(
        env_id=env_id,
        core=core,
        seed=spec.seed,
        gym_packages=list(spec.gym_packages),
        vec_env=spec.vec_env,
        eval_freq=spec.eval_freq,
        save_freq=spec.save_freq,
        device=spec.device,
    )
    run_name = spec.run_name or f"{env_id}_{core}_seed{spec.seed}"
    run_dir = Path(spec.log_folder) / run_name
    if (run_dir / CONFIG_FILE).exists():
        if not spec.overwrite:
            raise UsageError(
                f"run folder {run_dir} already exists: pass --overwrite to replace it or --resume {run_dir}"
            )
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, config)
    return run_dir, config


def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    """Write the run's resolved configuration (``config.yml``) atomically."""
    atomic_write_text(Path(run_dir) / CONFIG_FILE, yaml.safe_dump(config, sort_keys=False))


def read_config(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG_FILE
    if not path.exists():
        raise UsageError(f"{run_dir} is not a run folder (no {CONFIG_FILE})")
    config = read_yaml(path)
    if not isinstance(config, dict) or "env_id" not in config:
        raise UsageError(f"{path} is not a fw-agents run configuration")
    return config


def find_model(run_or_zip: str | Path, best: bool = False) -> tuple[Path, dict[str, Any] | None]:
    """The model file of a run folder (final, else best, else latest checkpoint) or a .zip.

    Returns the path and the run's configuration (``None`` for a bare zip without one beside it).
    """
    path = Path(run_or_zip)
    if path.is_dir():
        config = read_config(path)
        candidates = [path / "best_model.zip"] if best else [path / "model.zip", path / "best_model.zip"]
        checkpoint = latest_checkpoint(path)
        if checkpoint is not None and not best:
            candidates.append(checkpoint)
        for candidate in candidates:
            if candidate.exists():
                return candidate, config
        raise UsageError(f"no model in run folder {path} (looked for {', '.join(c.name for c in candidates)})")
    if not path.exists():
        raise UsageError(f"no such run folder or model file: {path}")
    for folder in (path.parent, path.parent.parent):
        if (folder / CONFIG_FILE).exists():
            return path, read_config(folder)
    return path, None


def play_env(config: dict[str, Any], model_path: Path, **extra: Any) -> Any:
    """One env of the run, for :func:`fw_agents.evaluation.play`: observations normalised as the
    model saw them in training when the run used ``normalize`` (``extra``: e.g. ``render_mode``)."""
    import gymnasium as gym

    env = env_factory(config, **extra)()
    normalize = observation_normalizer(model_path)
    if normalize is not None:
        env = gym.wrappers.TransformObservation(env, lambda obs: normalize(obs).astype(np.float32),
                                                env.observation_space)  # fmt: skip
    return env


def load_model(path: Path, env: VecEnv | None = None, device: str = "auto") -> RecurrentPPO:
    """``RecurrentPPO.load`` with a clear error for a missing or corrupt file.

    A zip that names its core by an alias (``"fw"``) or not at all is loaded as the core its
    parameters hold (:func:`_pinned_policy_kwargs`), whatever the default is today.
    """
    import zipfile

    path = Path(path)
    if not path.exists():
        raise UsageError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise UsageError(f"{path} is not a saved model (not a zip archive; corrupt or truncated?)")
    try:
        return RecurrentPPO.load(path, env=env, device=device, custom_objects=_pinned_policy_kwargs(path))
    except Exception as err:
        raise UsageError(f"cannot load model {path}: {type(err).__name__}: {err}") from err


def _pinned_policy_kwargs(path: Path) -> dict[str, Any] | None:
    """``{"policy_kwargs": …}`` naming the permanent core of a zip that names it by an alias or not
    at all (``"fw"`` has named three models over time), else None.

    The parameters tell: Ba et al.'s RNN holds a recurrent matrix (``….core.W.0``) and loads as
    ``"fw-rnn"``; the LSTM with a delta-rule memory holds a projection (``….core.proj.0``) and
    loads as ``"fw-lstm"``. An RNN zip that records no ``read_norm`` and holds no gate predates the
    gated RNN and was built with that time's defaults, the paper's: they fill the options it did
    not record. (Not recoverable: a model saved outside ``train.ppo`` in the gated era with
    ``read_gate=None`` but no ``read_norm`` loads unnormalised.)
    """
    from stable_baselines3.common.save_util import load_from_zip_file

    data, params, _ = load_from_zip_file(path, load_data=True, device="cpu")
    policy_kwargs = dict(data.get("policy_kwargs") or {})
    if policy_kwargs.get("core", DEFAULT_CORE) not in ALIASES:
        return None  # a permanent name: loads as it says
    names = list((params or {}).get("policy", {}))
    if any(".core.W." in name for name in names):
        policy_kwargs["core"] = "fw-rnn"
        core_kwargs = policy_kwargs.get("core_kwargs") or {}
        if "read_norm" not in core_kwargs and not any(".core.gate." in name for name in names):
            policy_kwargs["core_kwargs"] = {**PAPER_SETTINGS, **core_kwargs}
    elif any(".core.proj." in name for name in names):
        policy_kwargs["core"] = "fw-lstm"
    else:
        return None
    return {"policy_kwargs": policy_kwargs}
