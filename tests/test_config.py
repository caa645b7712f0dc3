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


def test_success_gate_holds_the_bonus_until_the_training_episodes_succeed():
    """``ent_success_gate``: the full bonus until a full window of training episodes is in and
    while at most the gate's fraction succeed, then linearly down to 0 when all do."""
    from collections import deque

    from fw_agents.callbacks import success_gate

    window = deque(maxlen=100)
    window.extend([True] * 99)
    assert success_gate(window, 0.8) == 1.0  # window not yet full
    for successes, factor in ((0, 1.0), (50, 1.0), (80, 1.0), (90, 0.5), (95, 0.25), (100, 0.0)):
        window.extend([True] * successes + [False] * (100 - successes))
        assert abs(success_gate(window, 0.8) - factor) < 1e-9


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
