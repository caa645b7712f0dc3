"""fw-agents: reinforcement-learning agents with fast-weight memory (Ba et al. 2016)."""

from fw_agents.cores import (
    DEFAULT_CORE,
    FastWeightLSTM,
    FastWeightRNN,
    GRUCore,
    IRNNCore,
    LSTMCore,
    RecurrentCore,
    available_cores,
    core_name,
    make_core,
    register_core,
)
from fw_agents.policies import FastWeightCnnPolicy, FastWeightMlpPolicy, FastWeightMultiInputPolicy

__version__ = "0.2.0"  # the one place the version is written (pyproject.toml reads it)

__all__ = [
    "DEFAULT_CORE",
    "FastWeightCnnPolicy",
    "FastWeightLSTM",
    "FastWeightMlpPolicy",
    "FastWeightMultiInputPolicy",
    "FastWeightRNN",
    "GRUCore",
    "IRNNCore",
    "LSTMCore",
    "RecurrentCore",
    "available_cores",
    "core_name",
    "make_core",
    "register_core",
]
