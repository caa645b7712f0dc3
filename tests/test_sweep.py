"""Grids of runs: train.sweep locally and on Ray, and its bad input."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml

from train._cli import run_cli


def test_sweep_runs_a_grid_locally_and_skips_finished_runs(tmp_path, capsys):
    from train import sweep

    config = tmp_path / "sweep.yml"
    config.write_text(yaml.safe_dump({
        "envs": ["MemoryCatch"], "cores": ["fw", "lstm"], "seeds": [0, 1], "timesteps": 64,
        "variants": {"a": {}, "b": {"learning_rate": "lin_0.001", "policy_kwargs": {"lstm_hidden_size": 8}}},
        "log_folder": str(tmp_path / "runs"), "jobs": 2, "threads": 1,
        "extra_args": ["--n-envs", "2", "--hyperparams", "n_steps:32", "batch_size:32", "n_epochs:1",
                       "eval_episodes:2", "--eval-freq", "64"],
    }))  # fmt: skip
    assert run_cli(sweep.main, [str(config), "--dry-run"]) == 0
    commands = capsys.readouterr().out.strip().splitlines()
    assert len(commands) == 8 and "policy_kwargs.lstm_hidden_size:8" in commands[-1]
    assert run_cli(sweep.main, [str(config)]) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir() if p.is_dir())
    assert len(runs) == 8 and all((tmp_path / "runs" / r / "model.zip").exists() for r in runs)
    b = yaml.safe_load((tmp_path / "runs" / "MemoryCatch_lstm_b_seed1" / "config.yml").read_text())
    assert b["core"] == "lstm" and b["seed"] == 1 and b["learning_rate"] == "lin_0.001"
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("*") if p.is_file()}
    assert run_cli(sweep.main, [str(config)]) == 0  # everything finished: nothing re-runs
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("*") if p.is_file()}
    assert {p: t for p, t in after.items() if not p.name.endswith(".log")} == {
        p: t for p, t in stamps.items() if not p.name.endswith(".log")
    }, "a finished run was touched"


def test_an_interrupted_run_stops_the_sweep(tmp_path, monkeypatch, capsys):
    """Ctrl-C reaches the runs (train.ppo saves a checkpoint and exits 130): the sweep starts no
    further run, lets the others end, and exits 130 with one line; before, it went on starting the
    queued runs, each interrupted in turn."""
    from fw_agents import sweep as sweep_lib
    from train import sweep

    started = []

    def fake_run(job):
        started.append(job.name)
        return job.name, sweep_lib.INTERRUPTED if len(started) == 1 else 0

    monkeypatch.setattr(sweep_lib, "_run", fake_run)
    config = tmp_path / "sweep.yml"
    config.write_text(yaml.safe_dump({"envs": ["MemoryCatch"], "cores": ["lstm"], "seeds": [0, 1, 2, 3],
                                      "log_folder": str(tmp_path / "runs")}))  # fmt: skip
    assert run_cli(sweep.main, [str(config), "--jobs", "1"]) == 130
    assert started == ["MemoryCatch_lstm_seed0"]
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["interrupted: finished work is kept; running the same command again resumes"]


def test_sweep_bad_files(tmp_path, capsys):
    from train import sweep

    assert run_cli(sweep.main, [str(tmp_path / "none.yml")]) == 2
    bad = tmp_path / "bad.yml"
    bad.write_text("envs: [MemoryCatch]\ncores: []\nseeds: [0]\n")
    assert run_cli(sweep.main, [str(bad)]) == 2
    assert "'cores' must be a non-empty list" in capsys.readouterr().err
    bad.write_text("envs: [MemoryCatch]\ncores: [fw]\nseeds: [0]\nseed: 3\n")
    assert run_cli(sweep.main, [str(bad)]) == 2
    assert "unknown keys ['seed']" in capsys.readouterr().err


def test_sweep_on_ray(tmp_path):
    pytest.importorskip("ray", reason="the optional 'ray' extra is not installed")
    from train import sweep

    config = tmp_path / "sweep.yml"
    config.write_text(yaml.safe_dump({
        "envs": ["MemoryCatch"], "cores": ["fw"], "seeds": [0, 1], "timesteps": 64,
        "log_folder": str(tmp_path / "runs"), "threads": 1,
        "extra_args": ["--n-envs", "2", "--hyperparams", "n_steps:32", "batch_size:32", "n_epochs:1",
                       "eval_episodes:2", "--eval-freq", "64"],
    }))  # fmt: skip
    assert run_cli(sweep.main, [str(config), "--ray", "local"]) == 0
    assert all((tmp_path / "runs" / f"MemoryCatch_fw_seed{s}" / "model.zip").exists() for s in (0, 1))


def test_an_interrupted_run_resumes_with_the_jobs_torch_threads(tmp_path, monkeypatch):
    """A run with a checkpoint resumes through ``train.ppo --resume``; the job's ``--threads`` goes with
    it (before, a resumed run took torch's default threads, and two resumed runs on two cores each ran
    two threads plus the compiled kernels' pool: the machine oversubscribed, ~10× slower)."""
    from fw_agents import sweep as sweep_lib

    job = sweep_lib.make_job(tmp_path, "MemoryCatch_lstm_seed0", "MemoryCatch", "lstm", 0, 64, threads=1)
    (job.run_dir / "checkpoints").mkdir(parents=True)
    (job.run_dir / "config.yml").write_text("n_timesteps: 64\n")
    (job.run_dir / "checkpoints" / "ckpt_32.zip").write_bytes(b"")
    calls = []
    monkeypatch.setattr(
        sweep_lib.subprocess, "run", lambda args, **kw: calls.append(args) or SimpleNamespace(returncode=0)
    )
    assert sweep_lib._run(job) == (job.name, 0)
    assert calls[0][1:5] == ["-m", "train.ppo", "--resume", str(job.run_dir)]
    assert calls[0][-2:] == ["--threads", "1"]
