"""Gymnasium environments that need memory. ``import envs`` registers them.

Registered ids (``gymnasium.make(id, **kwargs)`` overrides any constructor argument):

- ``MemoryCatch-v0`` (16×16, 3 visible frames) and ``MemoryCatch-24-v0`` (24×24, 5)
- ``AssociativeRecall-v0`` (K = 4) and ``AssociativeRecall-K8-v0``
- ``DelayedRecall-v0`` (L = 10) and ``DelayedRecall-L{1,3,10,30,100}-v0``
- ``CartPoleNoVel-v1``: CartPole with positions only (sb3-contrib's memory test)

:func:`make_env` also takes short names (``MemoryCatch``) and MiniGrid ids.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from envs.make import PACKAGE_IDS, SHORT_NAMES, make_env, resolve_env_id
from envs.memory_catch import MemoryCatchEnv
from envs.recall import AssociativeRecallEnv, DelayedRecallEnv
from envs.references import MemorylessCatchAgent, OracleCatchAgent, catch_rate

DELAYS = (1, 3, 10, 30, 100)


def _register() -> None:
    specs = {
        "MemoryCatch-v0": ("envs.memory_catch:MemoryCatchEnv", {"size": 16, "visible_steps": 3}),
        "MemoryCatch-24-v0": ("envs.memory_catch:MemoryCatchEnv", {"size": 24, "visible_steps": 5}),
        "AssociativeRecall-v0": ("envs.recall:AssociativeRecallEnv", {"num_pairs": 4}),
        "AssociativeRecall-K8-v0": ("envs.recall:AssociativeRecallEnv", {"num_pairs": 8}),
        "DelayedRecall-v0": ("envs.recall:DelayedRecallEnv", {"delay": 10}),
    }
    for delay in DELAYS:
        specs[f"DelayedRecall-L{delay}-v0"] = ("envs.recall:DelayedRecallEnv", {"delay": delay})
    for env_id, (entry_point, kwargs) in specs.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, kwargs=kwargs)
    if "CartPoleNoVel-v1" not in registry:
        register(id="CartPoleNoVel-v1", entry_point="envs.cartpole:CartPoleNoVelEnv", max_episode_steps=500)
    specs["CartPoleNoVel-v1"] = ("envs.cartpole:CartPoleNoVelEnv", {})
    assert set(specs) == set(PACKAGE_IDS), "envs.make.PACKAGE_IDS is out of date"


_register()

__all__ = [
    "PACKAGE_IDS",
    "SHORT_NAMES",
    "AssociativeRecallEnv",
    "DelayedRecallEnv",
    "MemoryCatchEnv",
    "MemorylessCatchAgent",
    "OracleCatchAgent",
    "catch_rate",
    "make_env",
    "resolve_env_id",
]
