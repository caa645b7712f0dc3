"""Training runs: configuration, run folders, checkpoints, resume. ``train.ppo`` is its CLI.

A run folder ``<log_folder>/<run_name>/`` holds

    config.yml           the resolved configuration (everything needed to rebuild the run)
    model.zip            the final model
    best_model.zip       the best model by periodic evaluation
    checkpoints/         ckpt_<steps>.zip, also written on Ctrl-C
    monitor/             Monitor CSVs of the training envs (returns, lengths, is_success)
    eval/                evaluations.npz and the eval envs' Monitor CSVs
    tb/                  TensorBoard logs

Every model file is written to a temporary name and renamed into place, so an interruption
never leaves a half-written model.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import inspect
import json
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
from torch import nn

from fw_agents import extractors
from fw_agents.atomic import atomic_path
from fw_agents.cores import available_cores, make_core
from fw_agents.diagnostics import MemoryDiagnostics
from fw_agents.errors import UsageError
from fw_agents.policies import (
    FW_CORES,
    FW_OPTIONS,
    FastWeightCnnPolicy,
    FastWeightMlpPolicy,
    FastWeightMultiInputPolicy,
)

# the training defaults ship with the library (package data)
HYPERPARAMS = Path(__file__).resolve().parent / "hyperparams.yml"
HARNESS_KEYS = ("n_envs", "n_timesteps", "eval_episodes", "policy_kwargs", "env_kwargs")
CONFIG_FILE = "config.yml"


# ----------------------------------------------------------------- configuration
def parse_key_values(items: list[str] | None, flag: str) -> dict[str, Any]:
    """``["a:1", "policy_kwargs.decay:0.9"]`` → ``{"a": 1, "policy_kwargs": {"decay": 0.9}}``.

    Values are read as YAML (numbers, booleans, lists, dicts); dots in keys nest.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition(":")
        if not sep or not key or not raw:
            raise UsageError(f"{flag} expects KEY:VALUE pairs, got {item!r} (e.g. learning_rate:0.001)")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise UsageError(f"{flag}: cannot read the value of {key!r} ({raw!r}): {err}") from err
        target = out
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into a copy of ``base``; nested dicts merge key by key."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def env_sections(env_id: str, table: dict[str, Any]) -> list[str]:
    """Names of the sections of ``table`` that apply to ``env_id``, least specific first.

    ``default``; then every *family* section: a name ``F`` such that the id starts with
    ``F-`` (``DelayedRecall`` covers ``DelayedRecall-L100-v0``, ``MiniGrid`` every MiniGrid
    id, and BabyAI ids too), shorter names first; then the section named by the exact id.
    """
    names = ["default"] if "default" in table else []
    family_of = env_id if not env_id.startswith("BabyAI-") else "MiniGrid-" + env_id
    families = [name for name in table if name != env_id and family_of.startswith(f"{name}-")]
    names += sorted(families, key=len)
    if env_id in table:
        names.append(env_id)
    return names


def load_hyperparams(env_id: str, core: str, path: Path = HYPERPARAMS) -> dict[str, Any]:
    """Defaults for ``env_id`` and ``core`` from the YAML file (see its header for the order)."""
    table = yaml.safe_load(path.read_text()) or {}
    sections = [table[name] or {} for name in env_sections(env_id, table)]
    config: dict[str, Any] = {}
    for section in sections:
        config = deep_merge(config, {k: v for k, v in section.items() if k != "cores"})
    for section in sections:
        config = deep_merge(config, section.get("cores", {}).get(core, {}))
    return config


def ppo_parameters() -> set[str]:
    return set(inspect.signature(RecurrentPPO.__init__).parameters) - {"self", "policy", "env"}


def check_hyperparams(config: dict[str, Any]) -> None:
    """Reject keys that are neither harness settings nor RecurrentPPO arguments."""
    known = ppo_parameters() | set(HARNESS_KEYS)
    for key in config:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"unknown hyperparameter {key!r}.{hint}")
    for key in ("n_envs", "n_timesteps"):
        if not isinstance(config.get(key), int) or config[key] < 1:
            raise UsageError(f"hyperparameter {key} must be a positive integer, got {config.get(key)!r}")
    for key in SCHEDULED:
        if key in config:
            schedule(config[key], key)


def resolve_class(name: Any, kind: str) -> Any:
    """A class from its name: a torch.nn activation, an extractor, or ``"module:Name"``."""
    if not isinstance(name, str):
        return name
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise UsageError(f"cannot import {kind} {name!r}: {err}") from err
    namespace = nn if kind == "activation_fn" else extractors
    if not hasattr(namespace, name):
        raise UsageError(f"unknown {kind} {name!r} (looked in {namespace.__name__})")
    return getattr(namespace, name)


def build_policy_kwargs(policy_kwargs: dict[str, Any], core: str) -> dict[str, Any]:
    kwargs = dict(policy_kwargs)
    for key in ("activation_fn", "features_extractor_class"):
        if key in kwargs:
            kwargs[key] = resolve_class(kwargs[key], key)
    kwargs["core"] = core
    if core in FW_CORES:
        # pin every core option in the run's configuration (and the saved model), so the run
        # reloads as it trained even if a later version changes the defaults
        options = {**(kwargs.get("lstm_kwargs") or {}), **(kwargs.get("core_kwargs") or {}),
                   **{k: kwargs[k] for k in FW_OPTIONS if kwargs.get(k) is not None}}  # fmt: skip
        try:
            settings = make_core(core, 1, 1, **options).settings()
        except (TypeError, ValueError) as err:
            raise UsageError(f"bad fast-weight core arguments {options}: {err}") from err
        kwargs["core_kwargs"] = {**(kwargs.get("core_kwargs") or {}), **settings}
    return kwargs


def policy_class_for(space: gym.Space) -> type:
    """The FastWeight*Policy matching an observation space (Dict, image, anything else)."""
    if isinstance(space, gym.spaces.Dict):
        return FastWeightMultiInputPolicy
    if is_image_space(space, check_channels=False):
        return FastWeightCnnPolicy
    return FastWeightMlpPolicy


# ----------------------------------------------------------------- environments
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


# ----------------------------------------------------------------- saving
def atomic_save(model: BaseAlgorithm, path: Path) -> Path:
    """Save the model so that ``path`` is never half written."""
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


class CheckpointEvery(BaseCallback):
    """Atomic checkpoint every ``save_freq`` env-steps (counted over all envs)."""

    def __init__(self, run_dir: Path, save_freq: int) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.save_freq = save_freq
        self.next_save = 0

    def _on_training_start(self) -> None:
        self.next_save = (self.num_timesteps // self.save_freq + 1) * self.save_freq

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_save:
            save_checkpoint(self.model, self.run_dir)
            self.next_save += self.save_freq
        return True


class StopOnInterrupt(BaseCallback):
    """Turns the first Ctrl-C into a clean stop at the next env step; a second Ctrl-C interrupts at once.

    While active, SIGINT only sets ``requested``, so the interrupt can neither land inside a C
    callback that swallows it (numba compiling a kernel, for one) nor in the middle of an update.
    Only the main thread can own the handler; elsewhere (e.g. a Ray worker) nothing changes.
    """

    def __init__(self, log: Callable[[str], None]) -> None:
        super().__init__()
        self.log = log
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _restore(self) -> None:
        if self._installed:
            previous = self._previous if self._previous is not None else signal.default_int_handler
            signal.signal(signal.SIGINT, previous)
            self._installed = False

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        self._restore()  # the next Ctrl-C acts at once
        self.log("Ctrl-C: stopping after the current step (press again to stop now)")

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _on_step(self) -> bool:
        return not self.requested


class SaveBest(BaseCallback):
    """Called by EvalCallback on a new best mean reward: atomically writes best_model.zip."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir

    def _on_step(self) -> bool:
        atomic_save(self.model, self.run_dir / "best_model.zip")
        return True


def save_checkpoint(model: BaseAlgorithm, run_dir: Path) -> Path:
    return atomic_save(model, run_dir / "checkpoints" / f"ckpt_{model.num_timesteps}.zip")


# ----------------------------------------------------------------- runs
def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass
class RunSpec:
    """What ``train.ppo`` asks for; :func:`prepare_run` turns it into a configuration."""

    env: str
    core: str = "fw"
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

    import_gym_packages(spec.gym_packages)
    if spec.core not in available_cores():
        raise UsageError(f"unknown policy core {spec.core!r}; known: {', '.join(available_cores())}")
    try:
        env_id = resolve_env_id(spec.env)
    except ValueError as err:
        raise UsageError(str(err)) from err
    config = deep_merge(load_hyperparams(env_id, spec.core), spec.hyperparams)
    if spec.n_envs is not None:
        config["n_envs"] = spec.n_envs
    if spec.timesteps is not None:
        config["n_timesteps"] = spec.timesteps
    config["env_kwargs"] = deep_merge(config.get("env_kwargs") or {}, spec.env_kwargs)
    check_hyperparams(config)
    config.update(
        env_id=env_id,
        core=spec.core,
        seed=spec.seed,
        gym_packages=list(spec.gym_packages),
        vec_env=spec.vec_env,
        eval_freq=spec.eval_freq,
        save_freq=spec.save_freq,
        device=spec.device,
    )
    run_name = spec.run_name or f"{env_id}_{spec.core}_seed{spec.seed}"
    run_dir = Path(spec.log_folder) / run_name
    if (run_dir / CONFIG_FILE).exists():
        if not spec.overwrite:
            raise UsageError(
                f"run folder {run_dir} already exists: pass --overwrite to replace it or --resume {run_dir}"
            )
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(config, sort_keys=False))
    return run_dir, config


def read_config(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG_FILE
    if not path.exists():
        raise UsageError(f"{run_dir} is not a run folder (no {CONFIG_FILE})")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UsageError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(config, dict) or "env_id" not in config:
        raise UsageError(f"{path} is not a fw-agents run configuration")
    return config


# Set by the harness itself, never from the hyperparameter table's plain keys.
_HARNESS_PPO_ARGS = ("policy_kwargs", "seed", "device", "verbose", "tensorboard_log")


def ppo_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """The RecurrentPPO arguments of a configuration, less those the harness sets itself,
    with ``lin_<value>`` schedules resolved."""
    return {
        k: schedule(v, k) if k in SCHEDULED else v
        for k, v in config.items()
        if k in ppo_parameters() and k not in _HARNESS_PPO_ARGS
    }


class LinearSchedule:
    """``lin_<value>`` in the hyperparameter table: from ``value`` down to 0 over the run."""

    def __init__(self, initial: float) -> None:
        self.initial = initial

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.initial

    def __repr__(self) -> str:
        return f"lin_{self.initial}"


def schedule(value: Any, key: str) -> Any:
    """Numbers pass through; ``"lin_0.001"`` becomes a :class:`LinearSchedule` (RL Zoo style)."""
    if isinstance(value, str):
        if not value.startswith("lin_"):
            raise UsageError(f"hyperparameter {key} must be a number or lin_<number>, got {value!r}")
        try:
            return LinearSchedule(float(value[4:]))
        except ValueError as err:
            raise UsageError(f"hyperparameter {key}: cannot read {value!r} as lin_<number>") from err
    return value


SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")


def build_model(config: dict[str, Any], env: VecEnv, run_dir: Path) -> RecurrentPPO:
    policy_kwargs = build_policy_kwargs(config.get("policy_kwargs") or {}, config["core"])
    kwargs = ppo_kwargs(config)
    try:
        return RecurrentPPO(
            policy_class_for(env.observation_space),
            env,
            policy_kwargs=policy_kwargs,
            seed=config["seed"],
            device=config["device"],
            tensorboard_log=str(run_dir / "tb"),
            verbose=0,
            **kwargs,
        )
    except (TypeError, ValueError, AssertionError) as err:
        raise UsageError(f"cannot build the model from the configuration: {err}") from err


def callbacks(config: dict[str, Any], run_dir: Path) -> tuple[CallbackList, VecEnv]:
    # held-out seeds; the same wrappers as training (e.g. VecTransposeImage for image observations)
    eval_env = make_vec(config, min(8, config["n_envs"]), config["seed"] + 10_000, run_dir / "eval", config["vec_env"])
    eval_env = BaseAlgorithm._wrap_env(eval_env, verbose=0)
    evaluation = EvalCallback(
        eval_env,
        n_eval_episodes=int(config.get("eval_episodes", 100)),
        eval_freq=max(1, config["eval_freq"] // config["n_envs"]),
        log_path=str(run_dir / "eval"),
        best_model_save_path=None,
        callback_on_new_best=SaveBest(run_dir),
        deterministic=True,
        verbose=0,
    )
    return CallbackList([evaluation, CheckpointEvery(run_dir, config["save_freq"]), MemoryDiagnostics()]), eval_env


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
            if fresh:
                model = build_model(config, env, run_dir)
            else:
                model = load_model(resume_from, env=env, device=config["device"])
                model.tensorboard_log = str(run_dir / "tb")
            cbs, eval_env = callbacks(config, run_dir)
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
    atomic_write_text(run_dir / "summary.json", json.dumps(summary))
    return model


# ----------------------------------------------------------------- loading
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


def load_model(path: Path, env: VecEnv | None = None, device: str = "auto") -> RecurrentPPO:
    """``RecurrentPPO.load`` with a clear error for a missing or corrupt file."""
    import zipfile

    path = Path(path)
    if not path.exists():
        raise UsageError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise UsageError(f"{path} is not a saved model (not a zip archive; corrupt or truncated?)")
    try:
        return RecurrentPPO.load(path, env=env, device=device)
    except Exception as err:
        raise UsageError(f"cannot load model {path}: {type(err).__name__}: {err}") from err
