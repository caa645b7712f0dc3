"""Gymnasium environments that need memory. ``import envs`` registers them.

Registered ids (``gymnasium.make(id, **kwargs)`` overrides any constructor argument):

- ``MemoryCatch-v0`` (16×16, 3 visible frames) and ``MemoryCatch-24-v0`` (24×24, 5)
- ``AssociativeRecall-v0`` (K = 4) and ``AssociativeRecall-K8-v0``
- ``DelayedRecall-v0`` (L = 10) and ``DelayedRecall-L{1,3,10,30,100}-v0``
- ``CartPoleNoVel-v1``: CartPole with positions only (sb3-contrib's memory test)

:func:`make_env` also takes short names (``MemoryCatch``) and MiniGrid ids.
"""

from __future__ import annotations

from envs.make import DELAYS, ENV_SPECS, PACKAGE_IDS, SHORT_NAMES, make_env, register_all, resolve_env_id
from envs.memory_catch import MemoryCatchEnv
from envs.recall import AssociativeRecallEnv, DelayedRecallEnv
from envs.references import MemorylessCatchAgent, OracleCatchAgent, catch_rate

register_all()

__all__ = [
    "DELAYS",
    "ENV_SPECS",
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
