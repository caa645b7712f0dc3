"""The FastWeight*Policy classes inside sb3-contrib's unmodified RecurrentPPO."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env

import envs
from fw_agents import FastWeightCnnPolicy, FastWeightMlpPolicy, FastWeightMultiInputPolicy
from fw_agents.extractors import MiniGridCNN
from fw_agents.policies import CoreAdapter

SMALL = {"n_steps": 16, "batch_size": 32, "n_epochs": 1}
CORES = [
    pytest.param({"core": "fw"}, id="fw"),
    pytest.param({"core": "fw-rnn"}, id="fw-rnn-attention"),
    pytest.param({"core": "fw-rnn", "form": "matrix"}, id="fw-rnn-matrix"),
    pytest.param({"core": "lstm"}, id="lstm"),
    pytest.param({"core": "irnn"}, id="irnn"),
    pytest.param({"core": "gru"}, id="gru"),
]


def _model(policy, env_id="MemoryCatch-v0", n_envs=2, **policy_kwargs):
    env = make_vec_env(lambda: envs.make_env(env_id), n_envs=n_envs, seed=0)
    kwargs = {"lstm_hidden_size": 16, "net_arch": {"pi": [16], "vf": [16]}, **policy_kwargs}
    return RecurrentPPO(policy, env, policy_kwargs=kwargs, seed=0, **SMALL)


def _trains(model, steps=64):
    """Train ``steps`` steps; the recurrent core's parameters must change and the loss be finite."""
    before = [p.detach().clone() for p in model.policy.lstm_actor.parameters()]
    model.learn(steps)
    after = list(model.policy.lstm_actor.parameters())
    assert model.num_timesteps >= steps
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)), "the core was not updated"
    assert all(torch.isfinite(p).all() for p in after)
    assert np.isfinite(model.logger.name_to_value["train/loss"])


@pytest.mark.parametrize("core", CORES)
def test_each_core_trains_on_memory_catch(core):
    model = _model(FastWeightMlpPolicy, **core)
    assert isinstance(model.policy.lstm_actor, CoreAdapter)
    _trains(model)
    # the buffer holds the packed core state of every step, and it is not all zero (memory is carried)
    assert np.abs(model.rollout_buffer.hidden_states_pi).sum() > 0


def test_box_env():
    model = _model(FastWeightMlpPolicy, env_id="CartPoleNoVel-v1")
    _trains(model)
    assert model.rollout_buffer.observations.shape[-1] == 2  # positions only


class DictCatch(gym.ObservationWrapper):
    """MemoryCatch with a Dict observation: the screen and the fraction of the episode done."""

    def __init__(self, env):
        super().__init__(env)
        n = env.unwrapped.size
        self.observation_space = gym.spaces.Dict(
            {"screen": env.observation_space, "time": gym.spaces.Box(0.0, 1.0, (1,), np.float32)}
        )
        self.n = n

    def observation(self, obs):
        return {"screen": obs, "time": np.array([self.env.unwrapped.t / (self.n - 1)], np.float32)}


def test_dict_env_multi_input_policy():
    env = make_vec_env(lambda: DictCatch(envs.make_env("MemoryCatch-v0")), n_envs=2, seed=0)
    model = RecurrentPPO(FastWeightMultiInputPolicy, env, policy_kwargs={"lstm_hidden_size": 16}, **SMALL)
    _trains(model)
    times = model.rollout_buffer.observations["time"]
    assert times.min() >= 0.0 and times.max() > 0.0  # the Dict's second entry reached the buffer


def test_minigrid_cnn_policy():
    env = make_vec_env(lambda: envs.make_env("MiniGrid-MemoryS7-v0"), n_envs=2, seed=0)
    model = RecurrentPPO(
        FastWeightCnnPolicy,
        env,
        policy_kwargs={"lstm_hidden_size": 16, "features_extractor_class": MiniGridCNN},
        **SMALL,
    )
    model.learn(64)
    assert isinstance(model.policy.features_extractor, MiniGridCNN)


@pytest.mark.parametrize(
    "options",
    [
        {"shared_lstm": True, "enable_critic_lstm": False},
        {"enable_critic_lstm": False},
        {"n_lstm_layers": 2, "lstm_kwargs": {"dropout": 0.1}},
        {"share_features_extractor": False},
        {"ortho_init": False, "activation_fn": torch.nn.ReLU},
    ],
    ids=["shared", "critic-mlp", "2layers-dropout", "separate-features", "no-ortho-relu"],
)
def test_lstm_policy_keyword_combinations(options):
    model = _model(FastWeightMlpPolicy, **options)
    model.learn(64)
    policy = model.policy
    if options.get("shared_lstm") or not options.get("enable_critic_lstm", True):
        assert policy.lstm_critic is None
    if "n_lstm_layers" in options:
        assert policy.lstm_actor.core.num_layers == 2 and policy.lstm_actor.core.dropout == 0.1


def test_invalid_combinations_raise_like_lstm_policies():
    with pytest.raises(AssertionError, match="shared LSTM"):
        _model(FastWeightMlpPolicy, shared_lstm=True, enable_critic_lstm=True)
    with pytest.raises(AssertionError, match="features extractor is not shared"):
        _model(FastWeightMlpPolicy, shared_lstm=True, enable_critic_lstm=False, share_features_extractor=False)
    with pytest.raises(ValueError, match="decay"):
        _model(FastWeightMlpPolicy, core="lstm", decay=0.9)
    with pytest.raises(ValueError, match="the default fast-weight core takes its options in core_kwargs"):
        _model(FastWeightMlpPolicy, decay=0.9)
    with pytest.raises(ValueError, match="decay must lie"):
        _model(FastWeightMlpPolicy, core="fw-rnn", decay=2.0)
    with pytest.raises(ValueError, match="rule must be one of"):
        _model(FastWeightMlpPolicy, core_kwargs={"rule": "hebb"})
    with pytest.raises(ValueError, match="unknown core"):
        _model(FastWeightMlpPolicy, core="transformer")


def _core_grads_from_value(model):
    """Back-propagate the values alone through a rollout batch: the actor core's gradient norm."""
    model.learn(32)
    batch = next(iter(model.rollout_buffer.get(batch_size=32)))
    policy = model.policy
    policy.zero_grad()
    values, _, _ = policy.evaluate_actions(batch.observations, batch.actions.long().flatten(), batch.lstm_states,
                                           batch.episode_starts)  # fmt: skip
    values.sum().backward()
    grads = [p.grad for p in policy.lstm_actor.parameters()]
    return sum(0.0 if g is None else float(g.norm()) for g in grads)


@pytest.mark.parametrize("core", ["fw", "lstm"])
def test_shared_core_is_trained_by_the_value_loss_too(core):
    shared = _model(FastWeightMlpPolicy, core=core, shared_core=True)
    policy = shared.policy
    assert policy.lstm_critic is policy.lstm_actor
    detached = _model(FastWeightMlpPolicy, core=core, shared_lstm=True, enable_critic_lstm=False)
    count = lambda m: sum(p.numel() for p in m.policy.parameters())  # noqa: E731
    assert count(shared) == count(detached)  # one core, not two
    assert _core_grads_from_value(shared) > 0
    # sb3-contrib's shared LSTM and the default separate critic: the value never reaches the actor's core
    assert _core_grads_from_value(detached) == 0
    assert _core_grads_from_value(_model(FastWeightMlpPolicy, core=core)) == 0


def test_shared_core_runs_once_and_equals_the_two_pass_parent():
    """With one core for both heads, the policy's one pass gives the parent's two passes' numbers."""
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy as Parent

    model = _model(FastWeightMlpPolicy, shared_core=True)
    model.learn(32)
    policy = model.policy
    batch = next(iter(model.rollout_buffer.get(batch_size=32)))
    args = (batch.observations, batch.actions.long().flatten(), batch.lstm_states, batch.episode_starts)
    calls = []
    policy.lstm_actor.register_forward_hook(lambda *_: calls.append(1))
    ours, parents = policy.evaluate_actions(*args), Parent.evaluate_actions(policy, *args)
    assert len(calls) == 1 + 2  # one pass for ours, two for the parent's
    for a, b in zip(ours, parents, strict=True):
        torch.testing.assert_close(a, b)
    torch.manual_seed(0)
    ours = policy.forward(batch.observations, batch.lstm_states, batch.episode_starts)
    torch.manual_seed(0)
    parents = Parent.forward(policy, batch.observations, batch.lstm_states, batch.episode_starts)
    for a, b in zip(ours[:3], parents[:3], strict=True):
        torch.testing.assert_close(a, b)
    for a, b in zip(ours[3].pi + ours[3].vf, parents[3].pi + parents[3].vf, strict=True):
        torch.testing.assert_close(a, b)


def test_shared_core_diagnostics_are_logged_once():
    from helpers import stats_at_rollout_end

    from fw_agents.diagnostics import rollout_memory_stats

    shared = stats_at_rollout_end(_model(FastWeightMlpPolicy, shared_core=True), rollout_memory_stats)
    assert shared and all(key.startswith("actor_") for key in shared)
    separate = stats_at_rollout_end(_model(FastWeightMlpPolicy), rollout_memory_stats)
    assert any(key.startswith("critic_") for key in separate)


def test_shared_core_survives_save_and_load(tmp_path):
    model = _model(FastWeightMlpPolicy, shared_core=True)
    model.learn(64)
    model.save(tmp_path / "model.zip")
    loaded = RecurrentPPO.load(tmp_path / "model.zip")
    assert loaded.policy.lstm_critic is loaded.policy.lstm_actor
    assert _episode_actions(loaded, 7) == _episode_actions(model, 7)
    obs = torch.as_tensor(envs.make_env("MemoryCatch-v0").reset(seed=7)[0])[None]
    zero = torch.zeros(1, 1, model.policy.lstm_actor.hidden_size)
    start = torch.ones(1)
    for m in (model, loaded):
        m.policy.set_training_mode(False)
    values = [m.policy.predict_values(obs, (zero, zero), start) for m in (model, loaded)]
    torch.testing.assert_close(values[0], values[1])


def test_shared_core_rejects_the_other_sharing_options():
    with pytest.raises(ValueError, match="shared_core needs enable_critic_lstm=True and shared_lstm=False"):
        _model(FastWeightMlpPolicy, shared_core=True, shared_lstm=True, enable_critic_lstm=False)
    with pytest.raises(ValueError, match="shared_core needs"):
        _model(FastWeightMlpPolicy, shared_core=True, enable_critic_lstm=False)


def test_fast_weight_options_reach_the_core():
    model = _model(FastWeightMlpPolicy, core="fw-rnn", decay=0.8, fast_lr=0.3, inner_steps=2, form="matrix")
    core = model.policy.lstm_actor.core
    assert (core.decay, core.fast_lr, core.inner_steps, core.form) == (0.8, 0.3, 2, "matrix")
    model = _model(FastWeightMlpPolicy, core_kwargs={"heads": 2, "key_size": 4, "rule": "add"})
    core = model.policy.lstm_actor.core
    assert (core.heads, core.key_size, core.rule) == (2, 4, "add")


def test_rollout_buffer_holds_the_packed_state():
    model = _model(FastWeightMlpPolicy)
    hidden = 16
    state_size = 2 * hidden + 4 * 8 * (hidden // 4)  # h, c and four 8 × 4 memories
    adapter = model.policy.lstm_actor
    assert adapter.hidden_size == (state_size + 1) // 2
    assert model.rollout_buffer.hidden_states_pi.shape == (SMALL["n_steps"], 1, 2, adapter.hidden_size)
    assert model.policy.state_bytes_per_step == 4 * 4 * adapter.hidden_size
    rnn = _model(FastWeightMlpPolicy, core="fw-rnn")  # h and the upper triangle of the symmetric A
    assert rnn.policy.lstm_actor.hidden_size == (hidden + hidden * (hidden + 1) // 2 + 1) // 2
    lstm = _model(FastWeightMlpPolicy, core="lstm")
    assert lstm.policy.lstm_actor.hidden_size == hidden  # (h, c): H floats each, as the stock LSTM


def _episode_actions(model, seed, junk_state=False):
    env = envs.make_env("MemoryCatch-v0")
    obs, _ = env.reset(seed=seed)
    state = None
    if junk_state:
        shape = (1, 1, model.policy.lstm_actor.hidden_size)
        state = (np.random.rand(*shape).astype(np.float32), np.random.rand(*shape).astype(np.float32))
    start = np.ones(1, bool)
    actions = []
    done = False
    while not done:
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        start = np.zeros(1, bool)
        actions.append(int(action))
        obs, _, done, _, _ = env.step(int(action))
    return actions


def test_predict_resets_memory_at_episode_start():
    model = _model(FastWeightMlpPolicy, lstm_hidden_size=32)
    model.learn(128)
    assert _episode_actions(model, 3) == _episode_actions(model, 3, junk_state=True)


def test_predict_matches_sequence_processing():
    """Stepping predict() through an episode equals one pass over the sequence."""
    model = _model(FastWeightMlpPolicy, lstm_hidden_size=8)
    policy = model.policy
    env = envs.make_env("MemoryCatch-v0")
    obs, _ = env.reset(seed=1)
    observations, states = [obs], []
    state, start = None, np.ones(1, bool)
    for _ in range(6):
        _, state = model.predict(obs, state=state, episode_start=start)
        states.append(state)
        start = np.zeros(1, bool)
        obs, *_ = env.step(1)
        observations.append(obs)
    x = torch.as_tensor(np.stack(observations[:6])).reshape(6, -1)
    features = policy.extract_features(x)
    zero = torch.zeros(1, 1, policy.lstm_actor.hidden_size)
    starts = torch.zeros(6)
    starts[0] = 1
    _, final = policy._process_sequence(features, (zero, zero), starts, policy.lstm_actor)
    np.testing.assert_allclose(final[0].detach().numpy(), states[-1][0], atol=1e-5)
    np.testing.assert_allclose(final[1].detach().numpy(), states[-1][1], atol=1e-5)


def test_save_and_load_in_a_fresh_process(tmp_path):
    model = _model(FastWeightMlpPolicy, core_kwargs={"gate_init": 0.7})
    model.learn(64)
    path = tmp_path / "model.zip"
    model.save(path)
    expected = _episode_actions(model, 7) + _episode_actions(model, 8)
    script = textwrap.dedent(
        f"""
        import json, numpy as np, envs
        from sb3_contrib import RecurrentPPO
        model = RecurrentPPO.load({str(path)!r})
        out = []
        for seed in (7, 8):
            env = envs.make_env("MemoryCatch-v0")
            obs, _ = env.reset(seed=seed)
            state, start, done = None, np.ones(1, bool), False
            while not done:
                action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
                start = np.zeros(1, bool)
                out.append(int(action))
                obs, _, done, _, _ = env.step(int(action))
        print(json.dumps(out))
        print(model.policy.lstm_actor.core.gate_init)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    lines = result.stdout.strip().splitlines()
    assert json.loads(lines[-2]) == expected
    assert lines[-1] == "0.7"


def test_an_lstm_state_passes_through_the_adapter_as_the_generic_packing_would_pack_it():
    """CoreAdapter hands an LSTM core's (h, c) through unchanged: the same tensors the generic
    pack / split / unpack produces, in both directions."""
    import torch

    from fw_agents.cores import make_core
    from fw_agents.policies import CoreAdapter

    adapter = CoreAdapter(make_core("lstm", 4, 6))
    assert adapter.direct and not CoreAdapter(make_core("fw-lstm", 4, 6)).direct
    state = (torch.randn(1, 3, 6), torch.randn(1, 3, 6))
    packed = adapter.core.pack_state(state)
    generic = (packed[:, :6].unsqueeze(0), packed[:, 6:].unsqueeze(0))
    for fast, slow in zip(adapter.from_core_state(state), generic, strict=True):
        torch.testing.assert_close(fast, slow)
    for fast, slow in zip(adapter.to_core_state(generic), adapter.core.unpack_state(packed), strict=True):
        torch.testing.assert_close(fast, slow)


def test_play_takes_a_scripted_opening_and_the_policy_sees_it():
    """``play(first_actions=...)``: each episode opens with the scripted actions (MemoryS7 starts
    facing east; two left turns face west), and the policy's state carries those steps."""
    from fw_agents.evaluation import play

    model = _model(FastWeightMlpPolicy, env_id="MiniGrid-MemoryS7-v0")
    env = envs.make_env("MiniGrid-MemoryS7-v0")
    taken: list[list[int]] = []
    seen: list[tuple[int, bool]] = []  # (direction, state is None) before each step

    def before(obs, state):
        if state is None:
            taken.append([])
        seen.append((int(env.unwrapped.agent_dir), state is None))

    def after(action, reward):
        taken[-1].append(int(np.asarray(action).reshape(-1)[0]))

    episodes = list(play(model, env, 3, seed=0, before_step=before, after_step=after, first_actions=(0, 0)))
    assert len(episodes) == 3 and all(len(actions) >= 3 for actions in taken)
    assert all(actions[:2] == [0, 0] for actions in taken)
    starts = [i for i, (_, fresh) in enumerate(seen) if fresh]
    assert all(seen[i] == (0, True) and seen[i + 2] == (2, False) for i in starts)
