"""A full-information agent for the MiniGrid suite's envs: the oracle reference, measured.

It reads the whole grid (not the agent's view) and plans with breadth-first search over
(position, heading) under MiniGrid's left / right / forward moves, then picks up, toggles or steps
onto what the task asks for:

- ``MiniGrid-Memory*``: step onto the cell beside the object that matches the cue (the env's
  ``success_pos``) — what a perfect memory of the cue allows;
- ``MiniGrid-DoorKey*``: pick up the key, open the door, step onto the goal;
- ``MiniGrid-RedBlueDoors*``: open the red door, then the blue one;
- anything with a goal square (``MiniGrid-Empty*``, ``MiniGrid-FourRooms``, …): step onto it.

:func:`oracle_success` runs it over seeded episodes through the same one-hot wrapper the agents get.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym

LEFT, RIGHT, FORWARD, PICKUP, TOGGLE = 0, 1, 2, 3, 5
STEPS = ((1, 0), (0, 1), (-1, 0), (0, -1))  # MiniGrid's DIR_TO_VEC: east, south, west, north


def _passable(grid: Any, x: int, y: int) -> bool:
    cell = grid.get(x, y)
    return cell is None or cell.can_overlap()


def plan(env: Any, target: tuple[int, int], onto: bool) -> int | None:
    """The first action of a shortest path that ends on ``target`` (``onto``) or facing it.

    ``None`` if the agent is already there (facing it) or no path exists.
    """
    start = (int(env.agent_pos[0]), int(env.agent_pos[1]), int(env.agent_dir))

    def done(x: int, y: int, d: int) -> bool:
        if onto:
            return (x, y) == target
        dx, dy = STEPS[d]
        return (x + dx, y + dy) == target

    if done(*start):
        return None
    first: dict[tuple[int, int, int], int] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        x, y, d = queue.popleft()
        dx, dy = STEPS[d]
        moves = [(LEFT, (x, y, (d - 1) % 4)), (RIGHT, (x, y, (d + 1) % 4))]
        nx, ny = x + dx, y + dy
        if (onto and (nx, ny) == target) or _passable(env.grid, nx, ny):
            moves.append((FORWARD, (nx, ny, d)))
        for action, state in moves:
            if state in seen:
                continue
            seen.add(state)
            first[state] = first.get((x, y, d), action)
            if done(*state):
                return first[state]
            queue.append(state)
    return None


def _find(env: Any, kind: str, colour: str | None = None) -> tuple[int, int] | None:
    for x in range(env.grid.width):
        for y in range(env.grid.height):
            cell = env.grid.get(x, y)
            if cell is not None and cell.type == kind and (colour is None or cell.color == colour):
                return x, y
    return None


def oracle_action(env: Any) -> int:
    """The oracle's next action in a MiniGrid env (``env.unwrapped``)."""
    name = type(env).__name__
    if name == "MemoryEnv":
        return plan(env, tuple(env.success_pos), onto=True)
    if name == "RedBlueDoorEnv":
        action = plan(env, _find(env, "door", "red" if not env.red_door.is_open else "blue"), onto=False)
        return TOGGLE if action is None else action
    if name == "DoorKeyEnv":
        door = _find(env, "door")
        if env.carrying is None and not env.grid.get(*door).is_open:
            action = plan(env, _find(env, "key"), onto=False)
            return PICKUP if action is None else action
        if not env.grid.get(*door).is_open:
            action = plan(env, door, onto=False)
            return TOGGLE if action is None else action
    goal = _find(env, "goal")
    if goal is None:
        raise ValueError(f"no oracle for {name}: it has no goal square and is not a suite env")
    return plan(env, goal, onto=True)


def oracle_success(env: gym.Env, episodes: int, seed: int = 0) -> float:
    """Fraction of ``episodes`` the oracle succeeds in (``info["is_success"]``, seeded)."""
    successes = 0
    env.reset(seed=seed)
    for _ in range(episodes):
        done, info = False, {}
        while not done:
            _, _, terminated, truncated, info = env.step(oracle_action(env.unwrapped))
            done = terminated or truncated
        successes += bool(info.get("is_success"))
        env.reset()
    return successes / episodes


__all__ = ["oracle_action", "oracle_success", "plan"]
