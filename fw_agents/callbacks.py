"""Training callbacks: checkpoints, a clean stop on Ctrl-C, the best model."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

from fw_agents.run_folder import atomic_save, save_checkpoint


class CheckpointEvery(BaseCallback):
    """Atomic checkpoint every ``save_freq`` env-steps (counted over all envs)."""

    def __init__(self, run_dir: Path, save_freq: int) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.save_freq = save_freq
        self.next_save = 0

    def _on_training_start(self) -> None:
        self.next_save = (self.num_timesteps // self.save_freq + 1) * self.save_freq

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_save:
            save_checkpoint(self.model, self.run_dir)
            self.next_save += self.save_freq
        return True


class StopOnInterrupt(BaseCallback):
    """Turns the first Ctrl-C into a clean stop at the next env step; a second Ctrl-C interrupts at once.

    While active, SIGINT only sets ``requested``, so the interrupt can neither land inside a C
    callback that swallows it (numba compiling a kernel, for one) nor in the middle of an update.
    Only the main thread can own the handler; elsewhere (e.g. a Ray worker) nothing changes.
    """

    def __init__(self, log: Callable[[str], None]) -> None:
        super().__init__()
        self.log = log
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _restore(self) -> None:
        if self._installed:
            previous = self._previous if self._previous is not None else signal.default_int_handler
            signal.signal(signal.SIGINT, previous)
            self._installed = False

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        self._restore()  # the next Ctrl-C acts at once
        self.log("Ctrl-C: stopping after the current step (press again to stop now)")

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _on_step(self) -> bool:
        return not self.requested


class EntropySchedule(BaseCallback):
    """Sets the entropy coefficient before every rollout: ``schedule(progress remaining)``
    (``ent_coef: lin_<value>`` in the hyperparameters; RecurrentPPO itself takes a number only),
    times a factor of the recent training episodes' success when ``by_success`` is given:
    :func:`fw_agents.config.success_gate` (``ent_success_gate``),
    :func:`fw_agents.config.success_variance` (``ent_success_variance``) or
    :func:`fw_agents.config.success_ramp` (``ent_success_ramp``), never below ``floor`` (``ent_floor``)."""

    def __init__(
        self,
        schedule: Callable[[float], float],
        by_success: Callable[[float], float] | None = None,
        floor: float = 0.0,
    ) -> None:
        super().__init__()
        self.schedule = schedule
        self.by_success = by_success
        self.floor = floor

    def _on_rollout_start(self) -> None:
        coef = float(self.schedule(self.model._current_progress_remaining))
        successes = self.model.ep_success_buffer
        # 1 until a full window (sb3's last 100 training episodes) is in
        if self.by_success is not None and successes.maxlen is not None and len(successes) == successes.maxlen:
            coef *= max(self.floor, self.by_success(float(np.mean(successes))))
        self.model.ent_coef = coef
        self.logger.record("train/ent_coef", coef)

    def _on_step(self) -> bool:
        return True


class SaveBest(BaseCallback):
    """Called by EvalCallback on a new best mean reward: atomically writes best_model.zip."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir

    def _on_step(self) -> bool:
        atomic_save(self.model, self.run_dir / "best_model.zip")
        return True


class RunEvaluation(EvalCallback):
    """SB3's ``EvalCallback`` that keeps a run's whole record and ends it with a figure.

    - On a resumed run it continues the run's ``evaluations.npz`` (SB3's callback starts a new
      one and would overwrite the evaluations made before the interruption) and its best score
      (so the first evaluation after a resume does not replace a better ``best_model.zip``).
    - :meth:`evaluate_final` evaluates the final model unless the last evaluation was of it, so
      every run that ends has a figure for its final model, whatever its budget.
    """

    def _init_callback(self) -> None:
        super()._init_callback()
        path = Path(f"{self.log_path}.npz")  # np.savez adds the suffix
        if self.log_path is None or not path.exists():
            return
        with np.load(path) as saved:
            keep = saved["timesteps"] <= self.model.num_timesteps
            self.evaluations_timesteps = [int(t) for t in saved["timesteps"][keep]]
            self.evaluations_results = [list(r) for r in saved["results"][keep]]
            self.evaluations_length = [list(n) for n in saved["ep_lengths"][keep]]
            if "successes" in saved:
                self.evaluations_successes = [list(x) for x in saved["successes"][keep]]
        if self.evaluations_results:
            self.best_mean_reward = float(max(np.mean(r) for r in self.evaluations_results))

    def evaluate_final(self) -> None:
        """Evaluate the model now, unless the latest evaluation was at its current step count."""
        self.num_timesteps = self.model.num_timesteps
        if self.evaluations_timesteps and self.evaluations_timesteps[-1] >= self.num_timesteps:
            return
        calls, freq = self.n_calls, self.eval_freq
        # _on_step evaluates when eval_freq is positive (0: no periodic evaluation) and divides n_calls
        self.n_calls, self.eval_freq = 0, 1
        try:
            self._on_step()
        finally:
            self.n_calls, self.eval_freq = calls, freq
