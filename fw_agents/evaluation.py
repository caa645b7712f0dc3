"""Evaluate a saved recurrent policy: returns, lengths and the env's success rate."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from sb3_contrib import RecurrentPPO

from fw_agents.errors import UsageError


@dataclass
class EvaluationResult:
    """Figures over ``episodes`` episodes; ``success_rate`` is the catch rate for MemoryCatch
    (``None`` when the env reports no ``is_success``)."""

    episodes: int
    mean_return: float
    std_return: float
    mean_length: float
    success_rate: float | None
    deterministic: bool
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        text = (
            f"{self.episodes} episodes ({'deterministic' if self.deterministic else 'stochastic'}, seed {self.seed}): "
            f"return {self.mean_return:.3f} ± {self.std_return:.3f}, length {self.mean_length:.1f}"
        )
        if self.success_rate is not None:
            text += f", success (catch) rate {self.success_rate:.3f}"
        return text


class Episode(NamedTuple):
    """One finished episode of :func:`play`."""

    total_return: float
    length: int
    info: dict
    last_obs: Any


def play(
    model: RecurrentPPO,
    env: gym.Env,
    episodes: int,
    deterministic: bool = True,
    seed: int = 0,
    before_step: Callable[[Any, tuple | None], None] | None = None,
    after_step: Callable[[Any, float], None] | None = None,
    first_actions: Sequence[Any] = (),
) -> Iterator[Episode]:
    """The one recurrent episode loop: play ``episodes`` full episodes, carrying the policy's
    recurrent state and resetting it at each episode start (``episode_start=True`` on the first
    step); yields an :class:`Episode` as each ends (before the env is reset, so ``env.render()``
    still shows the outcome).

    ``before_step(obs, state)``, if given, sees each observation and the recurrent state the
    action will be chosen from (``None`` at an episode start), e.g. to draw a video frame;
    ``after_step(action, reward)``, if given, sees the action taken and the reward it earned.
    ``first_actions``, if given, are taken instead of the policy's at each episode's first steps (a
    scripted opening); the policy still sees those steps' observations, so its memory holds them.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    check_spaces(model, env)
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        state, start = None, np.ones((1,), dtype=bool)
        total, length, done, info = 0.0, 0, False, {}
        while not done:
            if before_step is not None:
                before_step(obs, state)
            action, state = model.predict(obs, state=state, episode_start=start, deterministic=deterministic)
            if length < len(first_actions):
                action = first_actions[length]
            obs, reward, terminated, truncated, info = env.step(_scalar_action(action, env))
            if after_step is not None:
                after_step(action, float(reward))
            start = np.zeros((1,), dtype=bool)
            total += float(reward)
            length += 1
            done = terminated or truncated
        yield Episode(total, length, info, obs)
        obs, _ = env.reset()


def check_spaces(model: RecurrentPPO, env: gym.Env) -> None:
    """Raise a :class:`UsageError` naming both sides when ``env``'s observation or action space is not
    the one ``model`` was trained on (an other env, or the same env at another size)."""
    for kind in ("observation", "action"):
        trained, given = getattr(model, f"{kind}_space"), getattr(env, f"{kind}_space")
        if trained != given:
            env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
            raise UsageError(f"{env_id}'s {kind} space {_describe(given)} is not the model's {_describe(trained)}: "
                             "the model was trained on another env (or another size of it)")  # fmt: skip


def _describe(space: gym.Space) -> str:
    shape = getattr(space, "shape", None)
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({space.n})"
    return f"{type(space).__name__}{tuple(shape) if shape is not None else ''}"


def run_episodes(
    model: RecurrentPPO, env: gym.Env, episodes: int, deterministic: bool = True, seed: int = 0
) -> EvaluationResult:
    """Returns, lengths and success rate over ``episodes`` episodes of :func:`play`."""
    results = list(play(model, env, episodes, deterministic, seed))
    returns = [e.total_return for e in results]
    successes = [bool(e.info["is_success"]) for e in results if "is_success" in e.info]
    return EvaluationResult(
        episodes=episodes,
        mean_return=float(np.mean(returns)),
        std_return=float(np.std(returns)),
        mean_length=float(np.mean([e.length for e in results])),
        success_rate=float(np.mean(successes)) if len(successes) == episodes else None,
        deterministic=deterministic,
        seed=seed,
    )


def _scalar_action(action: np.ndarray, env: gym.Env) -> Any:
    if isinstance(env.action_space, gym.spaces.Discrete):
        return int(np.asarray(action).reshape(-1)[0])
    return np.asarray(action).reshape(env.action_space.shape)
