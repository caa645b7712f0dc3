"""fw-agents: reinforcement-learning agents with fast-weight memory (Ba et al. 2016)."""

from fw_agents.cores import (
    FastWeightLSTM,
    FastWeightRNN,
    GRUCore,
    IRNNCore,
    LSTMCore,
    RecurrentCore,
    available_cores,
    make_core,
    register_core,
)
from fw_agents.policies import FastWeightCnnPolicy, FastWeightMlpPolicy, FastWeightMultiInputPolicy

__version__ = "0.1.0"

__all__ = [
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
    "make_core",
    "register_core",
]
