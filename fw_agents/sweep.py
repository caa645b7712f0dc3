"""Grids of training runs (envs × cores × seeds × overrides), run as parallel processes or on Ray.

A sweep file (YAML)::

    envs: [MemoryCatch, MemoryCatch-24]
    cores: [fw, lstm, irnn, gru]
    seeds: [0, 1, 2]
    timesteps: 600000          # optional: else hyperparams.yml's n_timesteps
    variants:                  # optional: named hyperparameter overrides (--hyperparams)
      base: {}
      lr1e-3: {learning_rate: lin_0.001}
    log_folder: runs/sweep     # run folders land here, as train.ppo writes them
    jobs: 2                    # parallel processes (local)
    threads: 1                 # torch threads per run

Each run is ``python -m train.ppo`` writing an ordinary run folder, so ``train.plot`` reads
the results. Finished runs (``summary.json`` records the whole budget) are skipped, so a sweep can be
re-run to fill gaps — also from a copy that kept only each run's small files.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fw_agents.config import read_yaml
from fw_agents.errors import UsageError

KNOWN_KEYS = {"envs", "cores", "seeds", "timesteps", "variants", "log_folder", "jobs", "threads", "extra_args"}


@dataclass(frozen=True)
class Job:
    """One training run of the grid."""

    name: str
    args: tuple[str, ...]
    run_dir: Path
    threads: int | None = None  # torch threads of the process, also when the run resumes

    def command(self) -> list[str]:
        return [sys.executable, "-m", "train.ppo", *self.args]


def _flatten(prefix: str, value: Any) -> list[str]:
    if isinstance(value, dict):
        return [item for key, sub in value.items() for item in _flatten(f"{prefix}.{key}" if prefix else key, sub)]
    return [f"{prefix}:{yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"]


def load_sweep(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"sweep file not found: {path}")
    config = read_yaml(path) or {}
    unknown = set(config) - KNOWN_KEYS
    if unknown:
        raise UsageError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(KNOWN_KEYS)}")
    for key in ("envs", "cores", "seeds"):
        if not isinstance(config.get(key), list) or not config[key]:
            raise UsageError(f"{path}: '{key}' must be a non-empty list")
    return config


def make_job(folder: Path, name: str, env: str, core: str, seed: int, timesteps: int | None = None,
             threads: int | None = None, overrides: dict[str, Any] | None = None,
             extra_args: list[Any] | None = None) -> Job:  # fmt: skip
    """The ``train.ppo`` run ``folder/name`` (``overrides`` become ``--hyperparams``)."""
    args = ["--env", str(env), "--core", str(core), "--seed", str(seed),
            "--log-folder", str(folder), "--run-name", name, "--no-progress-bar"]  # fmt: skip
    if timesteps:
        args += ["--timesteps", str(timesteps)]
    if threads:
        args += ["--threads", str(threads)]
    if overrides:
        args += ["--hyperparams", *_flatten("", overrides)]
    args += [str(a) for a in extra_args or []]
    return Job(name, tuple(args), Path(folder) / name, threads)


def expand(config: dict[str, Any]) -> list[Job]:
    """Every (env, core, seed, variant) combination as a :class:`Job`."""
    folder = Path(config.get("log_folder", "runs/sweep"))
    variants = config.get("variants") or {"": {}}
    return [
        make_job(
            folder,
            "_".join(p for p in (env, core, variant, f"seed{seed}") if p),
            env,
            core,
            seed,
            config.get("timesteps"),
            config.get("threads"),
            overrides,
            config.get("extra_args"),
        )
        for env in config["envs"]
        for core in config["cores"]
        for variant, overrides in variants.items()
        for seed in config["seeds"]
    ]


def _run(job: Job) -> tuple[str, int]:
    """Run one job unless finished; an interrupted one resumes from its checkpoint (or restarts)."""
    from fw_agents.run_folder import latest_checkpoint, run_finished

    if run_finished(job.run_dir):
        return job.name, 0
    args = job.command()
    if (job.run_dir / "config.yml").exists():
        if latest_checkpoint(job.run_dir) is not None:
            # the run's settings come from its config.yml; the process's own (torch threads) from the job
            threads = ["--threads", str(job.threads)] if job.threads else []
            args = [sys.executable, "-m", "train.ppo", "--resume", str(job.run_dir), "--no-progress-bar", *threads]
        else:
            args.append("--overwrite")
    job.run_dir.parent.mkdir(parents=True, exist_ok=True)
    with (job.run_dir.parent / f"{job.name}.log").open("w") as handle:
        return job.name, subprocess.run(args, stdout=handle, stderr=subprocess.STDOUT).returncode


INTERRUPTED = 130  # train.ppo's exit code after Ctrl-C, its checkpoint saved


def run_local(jobs: list[Job], processes: int, log=print) -> dict[str, int]:
    """Run the jobs as up to ``processes`` parallel subprocesses; return each exit code.

    Ctrl-C (or any run exiting interrupted) stops the sweep: no further run starts, the runs under
    way save their checkpoints and end, then :class:`KeyboardInterrupt` is raised. Re-running the
    sweep resumes them.
    """
    stop = threading.Event()

    def run(job: Job) -> tuple[str, int | None]:
        if stop.is_set():
            return job.name, None
        name, code = _run(job)
        if code == INTERRUPTED:
            stop.set()
        return name, code

    codes = {}
    pool = ThreadPoolExecutor(max(1, processes))
    try:
        for name, code in pool.map(run, jobs):
            if code is None:
                continue
            codes[name] = code
            if code == INTERRUPTED:
                log(f"interrupted: {name} (checkpoint saved; re-run the sweep to resume)")
            else:
                log(f"{'done' if code == 0 else f'FAILED ({code})'}: {name}")
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if stop.is_set():
        raise KeyboardInterrupt
    return codes


def run_ray(jobs: list[Job], address: str, log=print) -> dict[str, int]:
    """Run the jobs as Ray tasks (one CPU each) on the cluster at ``address`` (``"local"`` starts one)."""
    try:
        import ray
    except ImportError as err:
        raise UsageError("--ray needs the optional extra: pip install 'fw-agents[ray]'") from err
    if address == "local":  # a throwaway single-machine cluster; the dashboard only slows its start
        ray.init(include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    else:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(_run)
    codes = {}
    for name, code in ray.get([remote.remote(job) for job in jobs]):
        codes[name] = code
        log(f"{'done' if code == 0 else f'FAILED ({code})'}: {name}")
    return codes


def run_jobs(jobs: list[Job], processes: int, ray_address: str | None = None, log=print) -> list[str]:
    """Run the jobs locally (``processes`` at a time) or on Ray; return the names of those that failed."""
    codes = run_ray(jobs, ray_address, log) if ray_address else run_local(jobs, processes, log)
    return [name for name, code in codes.items() if code != 0]
