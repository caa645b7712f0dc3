"""Training configuration: the defaults file, its lookup, validation, and what RecurrentPPO receives.

``fw_agents/hyperparams.yml`` (package data) holds the defaults; :func:`load_hyperparams` applies
its sections for an env and a core (the order is in the file's header); ``--hyperparams``
overrides are parsed by :func:`parse_key_values` and checked by :func:`check_hyperparams`.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.preprocessing import is_image_space
from torch import nn

from fw_agents import extractors
from fw_agents.cores import make_core
from fw_agents.errors import UsageError
from fw_agents.policies import (
    DEFAULT_HIDDEN,
    FW_OPTIONS,
    FastWeightCnnPolicy,
    FastWeightMlpPolicy,
    FastWeightMultiInputPolicy,
    core_arguments,
)

# the training defaults ship with the library (package data)
HYPERPARAMS = Path(__file__).resolve().parent / "hyperparams.yml"
HARNESS_KEYS = (
    "n_envs",
    "n_timesteps",
    "eval_episodes",
    "eval_deterministic",
    "normalize",
    "ent_success_gate",
    "ent_success_variance",
    "ent_success_ramp",
    "ent_floor",
    "sequence_length",
    "policy_kwargs",
    "env_kwargs",
)


def read_yaml(path: Path) -> Any:
    """The YAML document in ``path``; a malformed file is one clear :class:`UsageError`."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        raise UsageError(f"{path} is not valid YAML: {err}") from err


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


# RecurrentPPO's counts, checked when given (SB3 itself fails late or obscurely on a zero)
OPTIONAL_COUNTS = ("n_steps", "batch_size", "n_epochs", "sequence_length")


def positive_int(value: Any, what: str) -> int:
    """``value`` if it is an integer of at least 1 (a bool is not), else one UsageError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{what} must be a positive integer, got {value!r}")
    return value


def is_number(value: Any) -> bool:
    """Whether ``value`` is an int or a float (YAML's ``true`` is a bool, not a number)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_hyperparams(config: dict[str, Any]) -> None:
    """Reject keys that are neither harness settings nor RecurrentPPO arguments."""
    known = ppo_parameters() | set(HARNESS_KEYS)
    for key in config:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"unknown hyperparameter {key!r}.{hint}")
    for key in ("n_envs", "n_timesteps", *OPTIONAL_COUNTS):
        if key not in OPTIONAL_COUNTS or key in config:
            positive_int(config.get(key), f"hyperparameter {key}")
    if config.get("batch_size", 2) < 2:  # PPO normalises advantages over each minibatch
        raise UsageError(f"hyperparameter batch_size must be at least 2, got {config['batch_size']}")
    for key in SCHEDULED:
        if key in config:
            schedule(config[key], key)
    gate = config.get("ent_success_gate")
    if gate is not None and not (is_number(gate) and 0 <= gate < 1):
        raise UsageError(f"hyperparameter ent_success_gate must be a number in [0, 1), got {gate!r}")
    variance = config.get("ent_success_variance", False)
    if not isinstance(variance, bool):
        raise UsageError(f"hyperparameter ent_success_variance must be true or false, got {variance!r}")
    ramp = config.get("ent_success_ramp")
    if ramp is not None and not (is_number(ramp) and 0 < ramp <= 1):
        raise UsageError(f"hyperparameter ent_success_ramp must be a number in (0, 1], got {ramp!r}")
    factors = {
        "ent_success_gate": gate is not None,
        "ent_success_variance": variance,
        "ent_success_ramp": ramp is not None,
    }
    chosen = [name for name, on in factors.items() if on]
    if len(chosen) > 1:
        raise UsageError(f"hyperparameters {' and '.join(chosen)} exclude each other: choose one")
    floor = config.get("ent_floor")
    if floor is not None:
        if not (is_number(floor) and 0 <= floor <= 1):
            raise UsageError(f"hyperparameter ent_floor must be a number in [0, 1], got {floor!r}")
        if not chosen:
            raise UsageError(
                "hyperparameter ent_floor needs ent_success_gate, ent_success_variance or ent_success_ramp"
                " (the factor it bounds)"
            )


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
    # pin every option of the core (its settings() hook) in the run's configuration and saved
    # model, so the run reloads as it trained even if a later version changes the defaults
    options = core_arguments(kwargs.get("lstm_kwargs"), kwargs.get("core_kwargs"),
                             {k: kwargs.get(k) for k in FW_OPTIONS})  # fmt: skip
    try:
        settings = make_core(core, 1, kwargs.get("lstm_hidden_size", DEFAULT_HIDDEN), **options).settings()
    except (TypeError, ValueError) as err:
        raise UsageError(f"bad arguments for the {core} core {options}: {err}") from err
    if settings:
        kwargs["core_kwargs"] = {**(kwargs.get("core_kwargs") or {}), **settings}
    return kwargs


def policy_class_for(space: gym.Space) -> type:
    """The FastWeight*Policy matching an observation space (Dict, image, anything else)."""
    if isinstance(space, gym.spaces.Dict):
        return FastWeightMultiInputPolicy
    if is_image_space(space, check_channels=False):
        return FastWeightCnnPolicy
    return FastWeightMlpPolicy


# Set by the harness itself, never from the hyperparameter table's plain keys.
_HARNESS_PPO_ARGS = ("policy_kwargs", "seed", "device", "verbose", "tensorboard_log")


def ppo_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """The RecurrentPPO arguments of a configuration, less those the harness sets itself,
    with ``lin_<value>`` schedules resolved. A scheduled ``ent_coef`` (which RecurrentPPO takes as
    a number only) starts at its initial value; :func:`entropy_schedule` moves it during training."""
    kwargs = {
        k: schedule(v, k) if k in SCHEDULED else v
        for k, v in config.items()
        if k in ppo_parameters() and k not in _HARNESS_PPO_ARGS
    }
    if isinstance(kwargs.get("ent_coef"), LinearSchedule):
        kwargs["ent_coef"] = kwargs["ent_coef"](1.0)
    return kwargs


def entropy_schedule(config: dict[str, Any]) -> Callable[[float], float] | None:
    """The entropy coefficient as a function of the progress remaining when it moves during
    training (``ent_coef: lin_<value>``, or a factor of the training success set: see
    :func:`by_success`); ``None`` when it is fixed."""
    value = schedule(config["ent_coef"], "ent_coef") if "ent_coef" in config else None
    if isinstance(value, LinearSchedule):
        return value
    if by_success(config) is not None:
        constant = float(value if value is not None else ppo_default("ent_coef"))
        return lambda _progress: constant
    return None


def success_gate(gate: float) -> Callable[[float], float]:
    """``ent_success_gate``: the entropy bonus's factor from the success rate s of the last training
    episodes (``is_success``): 1 while s is at most ``gate``, then falling linearly to 0 at s = 1.
    Exploration lasts until the task is being solved, then the policy is let sharpen (its most
    likely action is what a deterministic evaluation plays); if successes fall back, the bonus
    returns."""
    return lambda success: min(1.0, (1.0 - success) / (1.0 - gate))


def success_variance(success: float) -> float:
    """``ent_success_variance``: the entropy bonus's factor 4·s·(1 − s), the variance of the recent
    episodes' outcome scaled to 1 at s = ½. Full where success is a coin flip (nothing yet tells a
    success from a failure: the guessing optimum of a memory task, which only exploration leaves);
    small where successes are rare (there the bonus holds the policy at uniform and drowns their
    signal) and where the task is solved (the most likely action is let settle)."""
    return 4.0 * success * (1.0 - success)


def success_ramp(ramp: float) -> Callable[[float], float]:
    """``ent_success_ramp``: the entropy bonus's factor min(1, best / ``ramp``), where best is the
    highest recent success rate seen so far in the run. Small while nothing has yet succeeded
    more often than chance (there a full bonus holds the policy at uniform and drowns the rare
    successes), full for good once the task has been solved at least ``ramp`` of the time, so a
    solved policy keeps the full bonus that holds it (and a collapsed one gets it to recover with);
    full within the first windows where guessing already succeeds that often (a memory task's split).
    The returned function keeps the best rate: make one per run (a resumed run starts it again
    from the rate of its first full window)."""
    best = 0.0

    def factor(success: float) -> float:
        nonlocal best
        best = max(best, success)
        return min(1.0, best / ramp)

    return factor


def by_success(config: dict[str, Any]) -> Callable[[float], float] | None:
    """The entropy bonus's factor as a function of the recent training success, when one is set
    (``ent_success_gate: g``, ``ent_success_variance: true`` or ``ent_success_ramp: r``)."""
    if config.get("ent_success_gate") is not None:
        return success_gate(config["ent_success_gate"])
    if config.get("ent_success_variance"):
        return success_variance
    if config.get("ent_success_ramp") is not None:
        return success_ramp(config["ent_success_ramp"])
    return None


def ppo_default(key: str) -> Any:
    """RecurrentPPO's own default for one of its arguments."""
    return inspect.signature(RecurrentPPO.__init__).parameters[key].default


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


SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf", "ent_coef")
