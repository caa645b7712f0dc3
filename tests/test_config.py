"""hyperparams.yml lookup: env families, exact ids, core entries."""

from __future__ import annotations

import pytest
import yaml

from envs import DELAYS
from fw_agents.config import HYPERPARAMS, env_sections, load_hyperparams
from fw_agents.errors import UsageError


def test_family_sections_apply_to_every_id_of_the_family():
    table = {name: {} for name in ("default", "DelayedRecall", "MiniGrid", "MemoryCatch", "MemoryCatch-24-v0")}
    assert env_sections("DelayedRecall-L100-v0", table) == ["default", "DelayedRecall"]
    assert env_sections("MemoryCatch-24-v0", table) == ["default", "MemoryCatch", "MemoryCatch-24-v0"]
    assert env_sections("MiniGrid-MemoryS7-v0", table) == ["default", "MiniGrid"]
    assert env_sections("BabyAI-GoToRedBall-v0", table) == ["default", "MiniGrid"]
    # a family name matches whole dash-separated words only
    assert env_sections("MemoryCatchy-v0", table) == ["default"]
    assert env_sections("CartPole-v1", table) == ["default"]


def test_every_delayed_recall_id_gets_the_family_settings():
    family = yaml.safe_load(HYPERPARAMS.read_text())["DelayedRecall"]
    for env_id in ["DelayedRecall-v0", *(f"DelayedRecall-L{d}-v0" for d in DELAYS)]:
        config = load_hyperparams(env_id, "fw")
        assert config["n_steps"] == family["n_steps"] == 64, env_id


def test_exact_id_section_overrides_its_family(tmp_path):
    path = tmp_path / "h.yml"
    path.write_text(yaml.safe_dump({
        "default": {"n_envs": 1, "learning_rate": 1.0},
        "Fam": {"n_envs": 2, "cores": {"lstm": {"learning_rate": 3.0}}},
        "Fam-B-v0": {"n_envs": 3},
    }))  # fmt: skip
    assert load_hyperparams("Fam-A-v0", "fw", path) == {"n_envs": 2, "learning_rate": 1.0}
    assert load_hyperparams("Fam-B-v0", "fw", path) == {"n_envs": 3, "learning_rate": 1.0}
    assert load_hyperparams("Fam-B-v0", "lstm", path) == {"n_envs": 3, "learning_rate": 3.0}


def test_atomic_path_replaces_in_one_step_or_not_at_all(tmp_path):
    from fw_agents.atomic import atomic_path

    target = tmp_path / "deep" / "file.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert not target.exists()  # nothing visible until the block ends
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.txt"]  # no temporary left behind


def test_entropy_coefficient_follows_a_linear_schedule(tmp_path):
    """``ent_coef: lin_0.01`` (RecurrentPPO takes a number only): the harness starts at 0.01 and lowers
    it before every rollout, reaching about 0 at the end of the budget."""
    import itertools

    import torch
    from helpers import train_run
    from sb3_contrib import RecurrentPPO

    from fw_agents.callbacks import EntropySchedule
    from fw_agents.config import LinearSchedule, entropy_schedule, ppo_kwargs

    assert ppo_kwargs({"ent_coef": "lin_0.01"})["ent_coef"] == 0.01
    assert isinstance(entropy_schedule({"ent_coef": "lin_0.01"}), LinearSchedule)
    assert entropy_schedule({"ent_coef": 0.01}) is None and entropy_schedule({}) is None
    seen = []
    original = EntropySchedule._on_rollout_start

    def spy(self):
        original(self)
        seen.append(self.model.ent_coef)

    EntropySchedule._on_rollout_start = spy
    try:
        torch.manual_seed(0)
        assert train_run(tmp_path, "--hyperparams", "ent_coef:lin_0.01", timesteps=256) == 0
    finally:
        EntropySchedule._on_rollout_start = original
    assert seen[0] == 0.01 and all(a > b for a, b in itertools.pairwise(seen)) and len(seen) == 4
    assert RecurrentPPO.load(tmp_path / "run" / "model.zip").ent_coef < 0.01


def test_success_factors_of_the_entropy_bonus():
    """``ent_success_gate``: the full bonus while at most the gate's fraction of the recent
    training episodes succeed, then linearly down to 0 when all do. ``ent_success_variance``:
    4·s·(1 − s), full at a coin flip, 0 at never and always. ``ent_success_ramp``: the best rate
    seen so far over the ramp, full for good once reached."""
    from fw_agents.config import success_gate, success_ramp, success_variance

    for success, factor in ((0.0, 1.0), (0.5, 1.0), (0.8, 1.0), (0.9, 0.5), (0.95, 0.25), (1.0, 0.0)):
        assert abs(success_gate(0.8)(success) - factor) < 1e-9
    for success, factor in ((0.0, 0.0), (0.1, 0.36), (0.5, 1.0), (0.9, 0.36), (1.0, 0.0)):
        assert abs(success_variance(success) - factor) < 1e-9
    # ent_success_ramp: the best rate so far over the ramp, at most 1; it never falls back
    ramp = success_ramp(0.5)
    seen = [ramp(success) for success in (0.0, 0.1, 0.05, 0.3, 0.6, 0.0, 0.2)]
    assert [round(factor, 9) for factor in seen] == [0.0, 0.2, 0.2, 0.6, 1.0, 1.0, 1.0]
    assert success_ramp(0.5)(0.05) == 0.1  # a new run starts from nothing


@pytest.mark.parametrize(
    "factor, expected",
    [
        ("variance", [0.01, 0.001, 0.0036, 0.01, 0.001, 0.001]),
        # the ramp (r = 0.5) keeps the full bonus once half succeeded, also when they fail again
        ("ramp", [0.01, 0.001, 0.002, 0.01, 0.01, 0.01]),
    ],
)
def test_entropy_schedule_follows_the_training_success_within_its_floor(factor, expected):
    """The callback applies the factor only once sb3's window of 100 training episodes is full,
    and never below ``ent_floor``."""
    from collections import deque
    from types import SimpleNamespace

    from fw_agents.callbacks import EntropySchedule
    from fw_agents.config import by_success

    logger = SimpleNamespace(record=lambda *args: None)
    model = SimpleNamespace(_current_progress_remaining=1.0, ep_success_buffer=deque(maxlen=100), logger=logger)
    config = {"variance": {"ent_success_variance": True}, "ramp": {"ent_success_ramp": 0.5}}[factor]
    callback = EntropySchedule(lambda _progress: 0.01, by_success(config), floor=0.1)
    callback.model = model
    seen = []
    for successes in (None, 0, 10, 50, 100, 0):
        if successes is not None:
            model.ep_success_buffer.extend([True] * successes + [False] * (100 - successes))
        else:
            model.ep_success_buffer.extend([True] * 99)  # not yet a full window
        callback._on_rollout_start()
        seen.append(round(model.ent_coef, 6))
    assert seen == expected


def test_ent_success_gate_is_checked_and_moves_the_coefficient():
    from fw_agents.config import check_hyperparams, entropy_schedule

    base = {"n_envs": 1, "n_timesteps": 10}
    for bad in (1.0, -0.1, "high", True):
        with pytest.raises(UsageError, match="ent_success_gate must be a number in \\[0, 1\\)"):
            check_hyperparams({**base, "ent_success_gate": bad})
    check_hyperparams({**base, "ent_success_gate": 0.8})
    assert entropy_schedule({"ent_coef": 0.01, "ent_success_gate": 0.8})(0.3) == 0.01
    assert entropy_schedule({"ent_coef": "lin_0.01", "ent_success_gate": 0.8})(0.5) == 0.005
    assert entropy_schedule({"ent_success_gate": 0.8})(1.0) == 0.0  # RecurrentPPO's default bonus
    for bad in (1.5, -0.1, "low", True):
        with pytest.raises(UsageError, match="ent_floor must be a number in \\[0, 1\\]"):
            check_hyperparams({**base, "ent_success_gate": 0.8, "ent_floor": bad})
    with pytest.raises(UsageError, match="ent_floor needs ent_success_gate, ent_success_variance or ent_success_ramp"):
        check_hyperparams({**base, "ent_floor": 0.1})
    with pytest.raises(UsageError, match="ent_success_variance must be true or false"):
        check_hyperparams({**base, "ent_success_variance": "yes"})
    with pytest.raises(UsageError, match="exclude each other"):
        check_hyperparams({**base, "ent_success_gate": 0.8, "ent_success_variance": True})
    check_hyperparams({**base, "ent_success_variance": True, "ent_floor": 0.1})
    for bad in (0, 1.5, True, "half"):
        with pytest.raises(UsageError, match="ent_success_ramp must be a number in \\(0, 1\\]"):
            check_hyperparams({**base, "ent_success_ramp": bad})
    with pytest.raises(UsageError, match="ent_success_variance and ent_success_ramp exclude each other"):
        check_hyperparams({**base, "ent_success_variance": True, "ent_success_ramp": 0.5})
    check_hyperparams({**base, "ent_success_ramp": 0.5, "ent_floor": 0.1})
    assert entropy_schedule({"ent_coef": 0.01, "ent_success_ramp": 0.5})(0.3) == 0.01
    assert entropy_schedule({"ent_coef": 0.01, "ent_success_variance": True})(0.3) == 0.01
    assert entropy_schedule({"ent_coef": 0.01, "ent_success_variance": False}) is None
