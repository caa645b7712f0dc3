"""The command-line fronts end to end: train → evaluate → video, resume, Ctrl-C, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml
from helpers import REPO, TINY, train_run
from sb3_contrib import RecurrentPPO

from fw_agents.callbacks import StopOnInterrupt
from train import evaluate, ppo, video
from train._cli import run_cli


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    assert train_run(folder, "--seed", "3") == 0
    return folder / "run"


def test_train_writes_a_complete_run_folder(trained_run):
    for name in ("config.yml", "model.zip", "best_model.zip", "eval/evaluations.npz", "summary.json"):
        assert (trained_run / name).exists(), name
    assert list((trained_run / "checkpoints").glob("ckpt_*.zip"))
    assert list((trained_run / "monitor").glob("*.monitor.csv"))
    assert list((trained_run / "tb").iterdir())
    assert not list(trained_run.rglob(".*partial*"))
    config = yaml.safe_load((trained_run / "config.yml").read_text())
    assert config["env_id"] == "MemoryCatch-v0" and config["core"] == "fw-lstm" and config["seed"] == 3
    assert config["n_steps"] == 32 and config["policy_kwargs"]["lstm_hidden_size"] == 8
    model = RecurrentPPO.load(trained_run / "model.zip")
    assert model.num_timesteps >= 256


def test_saved_model_pins_every_fast_weight_option(trained_run):
    """The zip records the core's full settings, so a later change of defaults cannot alter a saved run."""
    from fw_agents import FastWeightLSTM

    model = RecurrentPPO.load(trained_run / "model.zip")
    core = model.policy.lstm_actor.core
    assert model.policy_kwargs["core_kwargs"] == core.settings()
    assert set(core.settings()) >= {"heads", "key_size", "decays", "rule", "gate_init"}
    rebuilt = FastWeightLSTM(core.input_size, core.hidden_size, num_layers=core.num_layers, **core.settings())
    rebuilt.load_state_dict(core.state_dict())  # same parameters, same options


def test_models_saved_when_fw_named_the_fast_weight_rnn_load(tmp_path):
    """Zips saved when ``core="fw"`` named Ba et al.'s RNN (today ``"fw-rnn"``) load as that core:
    without recorded options with the paper's defaults of that time, with them as recorded."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.save_util import load_from_zip_file, save_to_zip_file

    import envs
    from fw_agents import FastWeightLSTM, FastWeightMlpPolicy, FastWeightRNN
    from fw_agents.cores.fast_weights import PAPER_SETTINGS
    from fw_agents.run_folder import load_model

    env = make_vec_env(lambda: envs.make_env("MemoryCatch"), n_envs=1)
    paper = {"lstm_hidden_size": 8, "core": "fw-rnn", "core_kwargs": dict(PAPER_SETTINGS)}
    model = RecurrentPPO(FastWeightMlpPolicy, env, n_steps=8, batch_size=8, policy_kwargs=paper)
    model.save(tmp_path / "new.zip")
    data, params, variables = load_from_zip_file(tmp_path / "new.zip")
    data["policy_kwargs"] = {"lstm_hidden_size": 8}  # as the first versions saved it
    save_to_zip_file(tmp_path / "old.zip", data, params, variables)
    with pytest.raises(RuntimeError):  # today's "fw" is another core
        RecurrentPPO.load(tmp_path / "old.zip")
    core = load_model(tmp_path / "old.zip").policy.lstm_actor.core
    assert core.settings() == model.policy.lstm_actor.core.settings()
    assert core.read_gate is None and not core.read_norm
    for name, value in model.policy.lstm_actor.core.state_dict().items():
        torch.testing.assert_close(core.state_dict()[name], value)
    # the gated era: "fw" with every option recorded
    gated = RecurrentPPO(FastWeightMlpPolicy, env, n_steps=8, policy_kwargs={"lstm_hidden_size": 8, "core": "fw-rnn"})
    gated.save(tmp_path / "gated.zip")
    data, params, variables = load_from_zip_file(tmp_path / "gated.zip")
    settings = gated.policy.lstm_actor.core.settings()
    data["policy_kwargs"] = {"lstm_hidden_size": 8, "core": "fw", "core_kwargs": settings}
    save_to_zip_file(tmp_path / "gated_old.zip", data, params, variables)
    core = load_model(tmp_path / "gated_old.zip").policy.lstm_actor.core
    assert isinstance(core, FastWeightRNN) and core.settings() == settings and core.read_gate == "unit"
    # a model saved today without recorded options (plain RecurrentPPO) loads with today's core
    RecurrentPPO(FastWeightMlpPolicy, env, n_steps=8, policy_kwargs={"lstm_hidden_size": 8}).save(tmp_path / "now")
    assert isinstance(load_model(tmp_path / "now.zip").policy.lstm_actor.core, FastWeightLSTM)


def test_evaluate_prints_and_writes_json(trained_run, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert run_cli(evaluate.main, [str(trained_run), "--episodes", "20", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "return" in printed and "catch" in printed
    figures = json.loads(out.read_text())
    assert figures["episodes"] == 20 and 0.0 <= figures["success_rate"] <= 1.0
    assert figures["mean_length"] == 15.0
    assert figures["mean_return"] == pytest.approx(2 * figures["success_rate"] - 1)


def test_evaluate_a_bare_zip_needs_an_env(trained_run, tmp_path, capsys):
    bare = tmp_path / "copy.zip"
    bare.write_bytes((trained_run / "model.zip").read_bytes())
    assert run_cli(evaluate.main, [str(bare), "--episodes", "2"]) == 2
    assert "--env" in capsys.readouterr().err
    assert run_cli(evaluate.main, [str(bare), "--episodes", "2", "--env", "MemoryCatch"]) == 0


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_video(trained_run, tmp_path, suffix):
    out = tmp_path / f"rollout{suffix}"
    assert run_cli(video.main, [str(trained_run), "--out", str(out), "--episodes", "1"]) == 0
    import imageio.v3 as iio

    frames = iio.imread(out, index=None)
    assert frames.shape[0] >= 10
    # three panels: true state | observation | attention weights, 256 px each with gaps
    assert frames.shape[2] >= 3 * 256


def test_resume_keeps_the_step_count(tmp_path):
    assert train_run(tmp_path, timesteps=128) == 0
    run = tmp_path / "run"
    assert run_cli(ppo.main, ["--resume", str(run), "--timesteps", "384", "--no-progress-bar"]) == 0
    model = RecurrentPPO.load(run / "model.zip")
    assert 384 <= model.num_timesteps < 384 + 64
    assert (run / "checkpoints" / "ckpt_256.zip").exists()


def test_normalized_run_saves_resumes_and_evaluates_with_its_statistics(tmp_path, capsys):
    import pickle

    from fw_agents.run_folder import play_env, read_config

    argv = ["--env", "CartPoleNoVel-v1", "--timesteps", "256", "--log-folder", str(tmp_path), "--run-name", "norm",
            "--eval-freq", "128", "--save-freq", "128", *TINY, "--hyperparams", "normalize:true"]  # fmt: skip
    assert run_cli(ppo.main, argv) == 0
    run = tmp_path / "norm"
    assert (run / "vecnormalize.pkl").exists() and (run / "checkpoints" / "ckpt_256_vecnormalize.pkl").exists()
    before = pickle.loads((run / "vecnormalize.pkl").read_bytes()).obs_rms.count
    # resuming continues the saved statistics rather than starting new ones
    assert run_cli(ppo.main, ["--resume", str(run), "--timesteps", "512", "--no-progress-bar"]) == 0
    stats = pickle.loads((run / "vecnormalize.pkl").read_bytes())
    assert stats.obs_rms.count > before + 200
    # evaluation sees observations normalised as in training
    env, raw = play_env(read_config(run), run / "model.zip"), play_env(read_config(run), tmp_path / "none.zip")
    obs, raw_obs = env.reset(seed=3)[0], raw.reset(seed=3)[0]
    expected = np.clip((raw_obs - stats.obs_rms.mean) / np.sqrt(stats.obs_rms.var + stats.epsilon), -10, 10)
    np.testing.assert_allclose(obs, expected, rtol=1e-5)
    assert run_cli(evaluate.main, [str(run), "--episodes", "2"]) == 0
    assert "CartPoleNoVel-v1" in capsys.readouterr().out


@pytest.mark.parametrize("vec_env", ["dummy", "subproc"])
def test_ctrl_c_saves_a_checkpoint_and_resume_continues(tmp_path, vec_env):
    cmd = [sys.executable, "-m", "train.ppo", "--env", "MemoryCatch", "--timesteps", "10000000",
           "--log-folder", str(tmp_path), "--run-name", "long", "--save-freq", "10000000",
           "--eval-freq", "10000000", "--vec-env", vec_env, *TINY]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = tmp_path / "long"
    deadline = time.time() + 120
    while not (run / "tb").exists() and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(1)  # the signal may land anywhere, even while numba compiles a kernel
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "checkpoint saved" in err and "--resume" in err
    assert "Traceback" not in err
    checkpoints = list((run / "checkpoints").glob("ckpt_*.zip"))
    assert len(checkpoints) == 1 and not list(run.rglob(".*partial*"))
    steps = int(checkpoints[0].stem.split("_")[1])
    assert steps > 0
    assert RecurrentPPO.load(checkpoints[0]).num_timesteps == steps
    argv = ["--resume", str(run), "--timesteps", str(steps + 64), "--no-progress-bar"]
    assert run_cli(ppo.main, argv) == 0
    assert RecurrentPPO.load(run / "model.zip").num_timesteps >= steps + 64


def test_first_ctrl_c_requests_a_stop_and_the_second_interrupts():
    # from Python's own handler, as in a training process; raise_signal signals this (the main)
    # thread and runs the handler before it returns
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    stop = StopOnInterrupt(log=lambda message: None)
    try:
        with stop:
            assert stop._on_step()
            signal.raise_signal(signal.SIGINT)
            assert stop.requested and not stop._on_step()
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, outer)


def test_subproc_vec_env_and_gym_packages(tmp_path):
    assert train_run(tmp_path, "--vec-env", "subproc", "--gym-packages", "envs", timesteps=64) == 0


def test_linear_schedule(tmp_path):
    assert train_run(tmp_path, "--hyperparams", "learning_rate:lin_0.001", name="lin", timesteps=64) == 0
    model = RecurrentPPO.load(tmp_path / "lin" / "model.zip")
    assert model.lr_schedule(1.0) == pytest.approx(0.001) and model.lr_schedule(0.5) == pytest.approx(0.0005)


def test_other_cores_and_envs(tmp_path, capsys):
    assert train_run(tmp_path, "--policy", "lstm", name="lstm", timesteps=64) == 0
    argv = ["--env", "MiniGrid-MemoryS7-v0", "--timesteps", "64", "--log-folder", str(tmp_path), "--run-name",
            "grid", *TINY]  # fmt: skip
    assert run_cli(ppo.main, argv) == 0
    config = yaml.safe_load((tmp_path / "grid" / "config.yml").read_text())
    assert config["policy_kwargs"]["features_extractor_class"] == "MiniGridMLP"
    # MiniGrid's section: advantages not normalised, the periodic evaluation deterministic
    assert config["eval_deterministic"] is True and config["normalize_advantage"] is False
    model = RecurrentPPO.load(tmp_path / "grid" / "model.zip")
    assert type(model.policy.features_extractor).__name__ == "MiniGridMLP"
    assert model.observation_space.shape == (20, 7, 7)
    capsys.readouterr()
    assert run_cli(evaluate.main, [str(tmp_path / "grid"), "--episodes", "1"]) == 0
    assert "(deterministic, seed" in capsys.readouterr().out  # as the run's periodic evaluation
    assert run_cli(evaluate.main, [str(tmp_path / "grid"), "--episodes", "1", "--stochastic"]) == 0
    assert "(stochastic, seed" in capsys.readouterr().out
    argv = ["--env", "MemoryCatch", "--env-kwargs", "size:8", "visible_steps:2", "--timesteps", "64",
            "--log-folder", str(tmp_path), "--run-name", "small", *TINY]  # fmt: skip
    assert run_cli(ppo.main, argv) == 0
    assert yaml.safe_load((tmp_path / "small" / "config.yml").read_text())["env_kwargs"] == {
        "size": 8,
        "visible_steps": 2,
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "MemoryCatsh"], "Did you mean 'MemoryCatch'"),
        (["--env", "MemoryCatch", "--policy", "transformer"], "unknown policy core 'transformer'"),
        (["--env", "MemoryCatch", "--hyperparams", "learning_rate"], "KEY:VALUE"),
        (["--env", "MemoryCatch", "--hyperparams", "lerning_rate:0.1"], "Did you mean 'learning_rate'"),
        (["--env", "MemoryCatch", "--hyperparams", "n_envs:0"], "n_envs must be a positive integer"),
        (["--env", "MemoryCatch", "--hyperparams", "n_steps:0"], "n_steps must be a positive integer"),
        (["--env", "MemoryCatch", "--hyperparams", "n_epochs:two"], "n_epochs must be a positive integer"),
        (["--env", "MemoryCatch", "--hyperparams", "batch_size:1"], "batch_size must be at least 2"),
        (["--env", "MemoryCatch", "--hyperparams", "learning_rate:fast"], "lin_<number>"),
        (["--env", "MemoryCatch", "--gym-packages", "no_such_package"], "no_such_package"),
        (["--env", "MemoryCatch", "--eval-freq", "-5"], "0 for the final evaluation only) must be a positive integer"),
        (["--env", "MemoryCatch", "--save-freq", "0"], "--save-freq (env steps) must be a positive integer, got 0"),
        (["--resume", "/nonexistent/run"], "not a run folder"),
        ([], "--env is required"),
    ],
)
def test_bad_training_input(argv, message, tmp_path, capsys):
    assert run_cli(ppo.main, [*argv, "--log-folder", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "MemoryCatch", "--env-kwargs", "size:-3"], "size"),
        (["--env", "MemoryCatch", "--hyperparams", "policy_kwargs.core_kwargs.rule:hebb"], "rule must be one of"),
        (["--env", "MemoryCatch", "--hyperparams", "policy_kwargs.features_extractor_class:NoSuchNet"], "NoSuchNet"),
        (["--env", "BrokenReset-v0", "--gym-packages", "broken_envs"], "the simulator is not running"),
    ],
    ids=["env-kwargs", "policy-kwargs", "extractor", "env-reset"],
)
def test_failures_before_training_leave_nothing_behind(argv, message, tmp_path, capsys):
    argv = [*argv, "--log-folder", str(tmp_path), "--run-name", "run", *TINY, "--timesteps", "64"]
    assert run_cli(ppo.main, argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.count("error:") == 1
    assert list(tmp_path.iterdir()) == []
    assert run_cli(ppo.main, argv) == 2  # nothing blocks the rerun: the same error again
    assert "--overwrite" not in capsys.readouterr().err


def test_existing_run_folder_is_not_clobbered(trained_run, capsys):
    before = (trained_run / "model.zip").read_bytes()
    argv = ["--env", "MemoryCatch", "--log-folder", str(trained_run.parent), "--run-name", trained_run.name]
    assert run_cli(ppo.main, argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (trained_run / "model.zip").read_bytes() == before


def test_bad_evaluation_input(tmp_path, capsys):
    assert run_cli(evaluate.main, [str(tmp_path / "missing")]) == 2
    assert "no such run folder or model file" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"not a zip at all")
    assert run_cli(evaluate.main, [str(corrupt), "--env", "MemoryCatch"]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    truncated = tmp_path / "truncated.zip"
    import zipfile

    with zipfile.ZipFile(truncated, "w") as archive:
        archive.writestr("data", "{}")
    assert run_cli(evaluate.main, [str(truncated), "--env", "MemoryCatch"]) == 2
    assert "cannot load model" in capsys.readouterr().err
    empty_run = tmp_path / "empty"
    empty_run.mkdir()
    (empty_run / "config.yml").write_text(yaml.safe_dump({"env_id": "MemoryCatch-v0"}))
    assert run_cli(evaluate.main, [str(empty_run)]) == 2
    assert "no model in run folder" in capsys.readouterr().err
    assert run_cli(video.main, [str(empty_run), "--out", str(tmp_path / "x.avi")]) == 2
    assert ".gif or .mp4" in capsys.readouterr().err


def test_cli_exit_code_in_a_real_process(tmp_path):
    result = subprocess.run([sys.executable, "-m", "train.evaluate", str(tmp_path / "nope")], cwd=REPO,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_hyperparams_file_is_the_single_source_of_defaults(tmp_path):
    """A run's config.yml holds what the defaults file says, and changing the file changes the run."""
    from fw_agents import config

    assert config.HYPERPARAMS.parent.name == "fw_agents"  # package data, not a path into train/
    assert train_run(tmp_path, "--env", "CartPoleNoVel", name="cart", timesteps=64) == 0
    run_config = yaml.safe_load((tmp_path / "cart" / "config.yml").read_text())
    assert run_config["gamma"] == 0.98 and run_config["gae_lambda"] == 0.8  # the CartPoleNoVel-v1 section
    custom = tmp_path / "h.yml"
    custom.write_text(yaml.safe_dump({"default": {"n_envs": 3, "gamma": 0.5}, "MiniGrid": {"n_envs": 5}}))
    assert config.load_hyperparams("MemoryCatch-v0", "fw", custom) == {"n_envs": 3, "gamma": 0.5}
    assert config.load_hyperparams("MiniGrid-MemoryS13-v0", "fw", custom) == {"n_envs": 5, "gamma": 0.5}


def test_evaluating_on_an_env_the_model_was_not_trained_on_is_one_error(trained_run, tmp_path, capsys):
    for env in ("MiniGrid-MemoryS7-v0", "MemoryCatch-24-v0"):  # another env; the same env at another size
        assert run_cli(evaluate.main, [str(trained_run), "--env", env, "--episodes", "1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and err.count("error:") == 1 and "observation space" in err, err
    out = tmp_path / "v.gif"
    assert run_cli(video.main, [str(trained_run), "--env", "MemoryCatch-24-v0", "--out", str(out)]) == 2
    assert "observation space" in capsys.readouterr().err and not out.exists()


def test_outputs_that_cannot_be_written_are_one_error_before_any_work(trained_run, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert run_cli(video.main, [str(trained_run), "--out", str(blocker / "rollout.gif")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out: cannot write") and "Traceback" not in err
    assert run_cli(evaluate.main, [str(trained_run), "--json", str(blocker / "e.json")]) == 2
    assert capsys.readouterr().err.startswith("error: --json: cannot write")


def test_resuming_a_finished_run_touches_nothing_unless_given_more_steps(tmp_path, capsys):
    assert train_run(tmp_path, timesteps=192) == 0  # checkpoints at 128; the run ends at 192
    run = tmp_path / "run"
    final = (run / "model.zip").read_bytes()
    assert run_cli(ppo.main, ["--resume", str(run), "--no-progress-bar"]) == 2
    err = capsys.readouterr().err
    assert "has finished" in err and "--timesteps" in err and err.count("error:") == 1
    assert (run / "model.zip").read_bytes() == final  # not replaced by the older checkpoint
    assert run_cli(ppo.main, ["--resume", str(run), "--timesteps", "128", "--no-progress-bar"]) == 2
    # more steps: continues from the final model (192 steps), not the checkpoint at 128
    assert run_cli(ppo.main, ["--resume", str(run), "--timesteps", "320", "--no-progress-bar"]) == 0
    assert "from model.zip (192 steps)" in capsys.readouterr().out
    assert RecurrentPPO.load(run / "model.zip").num_timesteps >= 320
    assert yaml.safe_load((run / "config.yml").read_text())["n_timesteps"] == 320
    assert run_cli(ppo.main, ["--resume", str(run), "--no-progress-bar"]) == 2  # finished at its new budget


def test_every_run_ends_with_an_evaluation_of_its_final_model_and_resume_keeps_the_record(tmp_path):
    # a budget below the evaluation interval still gives the run a figure
    assert train_run(tmp_path, "--eval-freq", "100000", timesteps=128) == 0
    run = tmp_path / "run"
    with np.load(run / "eval" / "evaluations.npz") as saved:
        assert list(saved["timesteps"]) == [RecurrentPPO.load(run / "model.zip").num_timesteps]
    assert (run / "best_model.zip").exists()
    assert run_cli(ppo.main, ["--resume", str(run), "--timesteps", "256", "--no-progress-bar"]) == 0
    with np.load(run / "eval" / "evaluations.npz") as saved:
        assert list(saved["timesteps"]) == [128, RecurrentPPO.load(run / "model.zip").num_timesteps]


def test_eval_freq_0_leaves_only_the_final_evaluation(tmp_path):
    """``--eval-freq 0`` means no periodic evaluation (as in SB3), not an evaluation at every step;
    the run still ends with one evaluation of its final model."""
    assert train_run(tmp_path, "--eval-freq", "0", timesteps=256) == 0
    run = tmp_path / "run"
    with np.load(run / "eval" / "evaluations.npz") as saved:
        assert list(saved["timesteps"]) == [RecurrentPPO.load(run / "model.zip").num_timesteps]


@pytest.mark.parametrize("recorded", ["fw", None])
def test_zips_naming_the_alias_load_as_the_core_they_hold_whatever_the_default(tmp_path, monkeypatch, recorded):
    """A zip that says ``core="fw"`` (or no core) holds the model of its time: it loads as that model
    (today's fw-lstm here) even after ``fw`` has come to name another core."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.save_util import load_from_zip_file, save_to_zip_file

    import envs
    from fw_agents import FastWeightLSTM, FastWeightMlpPolicy
    from fw_agents.cores import base
    from fw_agents.run_folder import load_model

    env = make_vec_env(lambda: envs.make_env("MemoryCatch"), n_envs=1)
    model = RecurrentPPO(FastWeightMlpPolicy, env, n_steps=8, batch_size=8, policy_kwargs={"lstm_hidden_size": 8})
    assert model.policy.core_name == "fw-lstm"
    model.save(tmp_path / "now.zip")
    data, params, variables = load_from_zip_file(tmp_path / "now.zip")
    data["policy_kwargs"] = {"lstm_hidden_size": 8, **({"core": recorded} if recorded else {})}
    save_to_zip_file(tmp_path / "old.zip", data, params, variables)
    monkeypatch.setitem(base.ALIASES, "fw", "lstm")  # a later release makes another core the default
    loaded = load_model(tmp_path / "old.zip")
    assert isinstance(loaded.policy.lstm_actor.core, FastWeightLSTM)
    for name, value in model.policy.state_dict().items():
        torch.testing.assert_close(loaded.policy.state_dict()[name], value)
