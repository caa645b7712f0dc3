"""The memory environments: Gymnasium's contract, the game's rules, references, bad arguments."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs import (
    PACKAGE_IDS,
    AssociativeRecallEnv,
    DelayedRecallEnv,
    MemoryCatchEnv,
    MemorylessCatchAgent,
    OracleCatchAgent,
    catch_rate,
    make_env,
)

ALL_IDS = [*PACKAGE_IDS, "MiniGrid-MemoryS7-v0"]


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_checkers_pass(env_id):
    env = make_env(env_id, render_mode="rgb_array")
    with warnings.catch_warnings():
        if env_id in PACKAGE_IDS:  # our own envs must not draw a single checker warning
            warnings.simplefilter("error", category=UserWarning)
            gym_check_env(env.unwrapped, skip_render_check=False)
        else:
            warnings.simplefilter("ignore", category=UserWarning)
            gym_check_env(env, skip_render_check=False)
    sb3_check_env(env, warn=False)
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3


def test_registered_settings_and_overrides():
    env = gym.make("MemoryCatch-v0").unwrapped
    assert (env.size, env.visible_steps, env.paddle_width) == (16, 3, 1)
    env = gym.make("MemoryCatch-24-v0").unwrapped
    assert (env.size, env.visible_steps) == (24, 5)
    env = gym.make("MemoryCatch-v0", size=10, visible_steps=2).unwrapped
    assert (env.size, env.visible_steps) == (10, 2)
    assert envs.resolve_env_id("MemoryCatch") == "MemoryCatch-v0"


def test_unknown_env_lists_names_and_suggests():
    with pytest.raises(ValueError, match=r"MemoryCatch.*Did you mean 'MemoryCatch'") as info:
        make_env("MemoryCatsh")
    assert "AssociativeRecall" in str(info.value)


def test_minigrid_gets_one_hot_view_and_success():
    env = make_env("MiniGrid-MemoryS7-v0")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (20, 7, 7) and obs.dtype == np.float32 and env.observation_space.contains(obs)
    # each cell: exactly one object type, one colour, one state
    assert (obs[:11].sum(0) == 1).all() and (obs[11:17].sum(0) == 1).all() and (obs[17:].sum(0) == 1).all()
    base = env.unwrapped
    base.agent_pos, base.agent_dir = np.array(base.success_pos) - (1, 0), 0  # facing the success cell
    _, reward, terminated, _, info = env.step(2)  # forward onto the success cell
    assert terminated and reward > 0 and info["is_success"] is True
    cartpole = make_env("CartPole-v1")
    assert cartpole.observation_space.shape == (4,)


@pytest.mark.parametrize(
    "env_id",
    ["MiniGrid-MemoryS7-v0", "MiniGrid-RedBlueDoors-6x6-v0", "MiniGrid-DoorKey-8x8-v0", "MiniGrid-LavaGapS7-v0"],
)
def test_fast_partial_view_equals_minigrids(env_id):
    """The fast view is MiniGrid's own view, cell for cell, over random play (doors, keys carried, walls)."""
    import gymnasium as gym
    from minigrid.minigrid_env import MiniGridEnv

    from envs.minigrid_view import partial_view

    rng = np.random.default_rng(0)
    for see_through in (False, True):
        env = gym.make(env_id).unwrapped
        env.see_through_walls = see_through
        env.reset(seed=1)
        for _ in range(1500):
            _, _, terminated, truncated, _ = env.step(int(rng.integers(7)))
            np.testing.assert_array_equal(partial_view(env), MiniGridEnv.gen_obs(env)["image"])
            if terminated or truncated:
                env.reset(seed=int(rng.integers(10_000)))


def _run_episode(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], []
    i = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(actions[i % len(actions)])
        i += 1
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        assert not truncated
        if terminated:
            return observations, rewards, infos


catch_settings = st.integers(3, 24).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(1, n), st.integers(0, n - 1))
)


@settings(max_examples=60, deadline=None)
@given(catch_settings, st.integers(0, 2**31 - 1), st.lists(st.integers(0, 2), min_size=1, max_size=30))
def test_memory_catch_rules(setting, seed, actions):
    size, visible, width, start = setting
    env = MemoryCatchEnv(size=size, visible_steps=visible, paddle_width=width, paddle_start=start)
    observations, rewards, infos = _run_episode(env, seed, actions)
    assert len(rewards) == size - 1
    assert all(r == 0.0 for r in rewards[:-1]) and rewards[-1] in (-1.0, 1.0)
    assert infos[-1]["caught"] == (rewards[-1] == 1.0) == infos[-1]["is_success"]
    for k, obs in enumerate(observations):
        assert obs.shape == (size, size) and obs.dtype == np.float32
        if k >= visible:
            assert not obs.any(), f"observation {k} should be blank (visible_steps={visible})"
        elif k == size - 1:  # the ball has landed in the bottom row, on or beside the paddle
            assert obs[:-1].sum() == 0 and obs[-1].sum() == width + (0 if infos[-1]["caught"] else 1)
        else:
            bottom = np.flatnonzero(obs[-1])
            assert len(bottom) == width and bottom[0] >= 0 and bottom[-1] < size
            assert np.all(np.diff(bottom) == 1)
            assert obs[:-1].sum() == 1 and obs[k].sum() >= 1  # the ball is in row k
    again, rewards_again, _ = _run_episode(env, seed, actions)
    assert rewards_again == rewards
    assert all(np.array_equal(a, b) for a, b in zip(again, observations, strict=True))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 26), st.integers(0, 2**31 - 1), st.lists(st.integers(0, 9), min_size=1, max_size=12))
def test_associative_recall_rules(pairs, seed, actions):
    env = AssociativeRecallEnv(num_pairs=pairs)
    observations, rewards, infos = _run_episode(env, seed, actions)
    assert len(rewards) == 2 * pairs + 3
    assert all(r == 0.0 for r in rewards[:-1]) and rewards[-1] in (-1.0, 1.0)
    tokens = [int(np.argmax(o)) for o in observations[:-1]]
    keys, values = tokens[0 : 2 * pairs : 2], tokens[1 : 2 * pairs : 2]
    assert len(set(keys)) == pairs and all(k < 26 for k in keys) and all(26 <= v < 36 for v in values)
    assert tokens[2 * pairs : 2 * pairs + 2] == [36, 36]
    answer = values[keys.index(tokens[-1])] - 26
    last_action = actions[(len(rewards) - 1) % len(actions)]
    assert (rewards[-1] == 1.0) == (last_action == answer) == infos[-1]["is_success"]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(2, 5), st.integers(0, 2**31 - 1), st.integers(0, 4))
def test_delayed_recall_rules(delay, cues, seed, answer):
    env = DelayedRecallEnv(delay=delay, num_cues=cues)
    observations, rewards, infos = _run_episode(env, seed, [answer % cues])
    assert len(rewards) == delay + 1
    cue = int(np.argmax(observations[0][:-1]))
    assert observations[0][:-1].sum() == 1
    assert all(not o.any() for o in observations[1:delay])
    assert observations[delay][-1] == 1 and observations[delay][:-1].sum() == 0
    assert (rewards[-1] == 1.0) == (answer % cues == cue) == infos[-1]["is_success"]


@pytest.mark.parametrize(("env_id", "memoryless_max"), [("MemoryCatch-v0", 0.55), ("MemoryCatch-24-v0", 0.55)])
def test_oracle_catches_everything_and_memoryless_does_not(env_id, memoryless_max):
    env = gym.make(env_id).unwrapped
    assert catch_rate(OracleCatchAgent(env.size), env, 500, seed=1) == 1.0
    assert catch_rate(MemorylessCatchAgent(), env, 500, seed=1) < memoryless_max


def test_oracle_with_wide_paddle_and_offset_start():
    env = MemoryCatchEnv(size=12, visible_steps=1, paddle_width=3, paddle_start=2)
    assert catch_rate(OracleCatchAgent(12, paddle_width=3), env, 300, seed=2) == 1.0


@pytest.mark.parametrize(
    ("factory", "name"),
    [
        (lambda: MemoryCatchEnv(size=2), "size"),
        (lambda: MemoryCatchEnv(visible_steps=0), "visible_steps"),
        (lambda: MemoryCatchEnv(size=5, paddle_width=6), "paddle_width"),
        (lambda: MemoryCatchEnv(size=5, paddle_start=7), "paddle_start"),
        (lambda: MemoryCatchEnv(render_mode="human"), "render_mode"),
        (lambda: AssociativeRecallEnv(num_pairs=27), "num_pairs"),
        (lambda: AssociativeRecallEnv(num_pairs=0), "num_pairs"),
        (lambda: DelayedRecallEnv(delay=0), "delay"),
        (lambda: DelayedRecallEnv(num_cues=1), "num_cues"),
    ],
)
def test_bad_arguments_raise(factory, name):
    with pytest.raises(ValueError, match=name):
        factory()


def test_bad_action_raises():
    env = MemoryCatchEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(3)


def test_render_marks_blank_view():
    env = MemoryCatchEnv(size=8, visible_steps=1, render_mode="rgb_array")
    env.reset(seed=0)
    visible = env.render()
    env.step(1)
    blank = env.render()
    assert visible.shape == blank.shape == (256, 256, 3)
    assert tuple(visible[0, 0]) == tuple(envs.render.VISIBLE_COLOR)
    assert tuple(blank[0, 0]) == tuple(envs.render.BLANK_COLOR)
    # the true state (ball, paddle) is drawn even when the agent's view is blank
    assert (blank[..., 0] == 255).any()


def test_one_table_registers_every_env_and_its_short_name():
    import gymnasium as gym

    from envs import ENV_SPECS, SHORT_NAMES, resolve_env_id

    for env_id, (_entry, kwargs, max_steps) in ENV_SPECS.items():
        spec = gym.spec(env_id)
        assert spec.kwargs == kwargs and spec.max_episode_steps == max_steps
        assert resolve_env_id(env_id.rsplit("-v", 1)[0]) == env_id
    assert set(SHORT_NAMES.values()) == set(ENV_SPECS)


@pytest.mark.parametrize("env_id", ["MiniGrid-DoorKey-5x5-v0", "MiniGrid-RedBlueDoors-6x6-v0", "MiniGrid-MemoryS7-v0",
                                    "MiniGrid-MemoryS9-v0", "MiniGrid-Empty-Random-5x5-v0"])  # fmt: skip
def test_minigrid_oracle_solves_the_suite_envs(env_id):
    """The oracle reference plans on the full grid: every episode must succeed (the suite's 1.0)."""
    from envs.minigrid_oracle import oracle_success

    assert oracle_success(make_env(env_id), episodes=30, seed=5) == 1.0
