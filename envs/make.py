"""``make_env``: any registered Gymnasium id, or a short name, ready for the recurrent policies."""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import register, registry

# The one table of this package's envs: id -> (entry point, constructor kwargs, max_episode_steps).
# Registration (``import envs``), short names and the package's id list all come from it.
DELAYS = (1, 3, 10, 30, 100)
ENV_SPECS: dict[str, tuple[str, dict[str, Any], int | None]] = {
    "MemoryCatch-v0": ("envs.memory_catch:MemoryCatchEnv", {"size": 16, "visible_steps": 3}, None),
    "MemoryCatch-24-v0": ("envs.memory_catch:MemoryCatchEnv", {"size": 24, "visible_steps": 5}, None),
    "AssociativeRecall-v0": ("envs.recall:AssociativeRecallEnv", {"num_pairs": 4}, None),
    "AssociativeRecall-K8-v0": ("envs.recall:AssociativeRecallEnv", {"num_pairs": 8}, None),
    "DelayedRecall-v0": ("envs.recall:DelayedRecallEnv", {"delay": 10}, None),
    **{f"DelayedRecall-L{d}-v0": ("envs.recall:DelayedRecallEnv", {"delay": d}, None) for d in DELAYS},
    "CartPoleNoVel-v1": ("envs.cartpole:CartPoleNoVelEnv", {}, 500),
}
PACKAGE_IDS = tuple(ENV_SPECS)
# Short names: the id without its version suffix.
SHORT_NAMES = {env_id.rsplit("-v", 1)[0]: env_id for env_id in PACKAGE_IDS}


def register_all() -> None:
    """Register every id of :data:`ENV_SPECS` with Gymnasium (ids already registered are kept)."""
    for env_id, (entry_point, kwargs, max_steps) in ENV_SPECS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, kwargs=kwargs, max_episode_steps=max_steps)


def is_minigrid(env_id: str) -> bool:
    return env_id.startswith("MiniGrid-") or env_id.startswith("BabyAI-")


def resolve_env_id(name: str) -> str:
    """Map a short name (``MemoryCatch``) or a full id to a registered Gymnasium id.

    :raises ValueError: for an unknown name, listing this package's short names and the
        closest registered ids.
    """
    import envs  # noqa: F401  (registers this package's ids)

    if name in SHORT_NAMES:
        return SHORT_NAMES[name]
    if is_minigrid(name):
        import minigrid  # noqa: F401  (registers the MiniGrid ids)
    if name in registry:
        return name
    candidates = list(SHORT_NAMES) + list(registry)
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"unknown environment {name!r}. This package's environments: {', '.join(SHORT_NAMES)} "
        f"(or any registered Gymnasium id, e.g. MiniGrid-MemoryS7-v0).{hint}"
    )


def make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """Make an env by short name or id; MiniGrid ids get their partial view as one-hot channels
    (:class:`envs.minigrid_view.MiniGridOneHot`). Other ids get no wrapper."""
    env_id = resolve_env_id(env_id)
    env = gym.make(env_id, **kwargs)
    if is_minigrid(env_id):
        from envs.minigrid_view import MiniGridOneHot

        env = MiniGridOneHot(env)
    return env
