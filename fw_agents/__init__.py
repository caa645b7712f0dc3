"""fw-agents: reinforcement-learning agents with fast-weight memory (Ba et al. 2016)."""

from fw_agents.cores import (
    FastWeightRNN,
    GRUCore,
    IRNNCore,
    LSTMCore,
    RecurrentCore,
    available_cores,
    make_core,
    register_core,
)

__version__ = "0.1.0"

__all__ = [
    "FastWeightRNN",
    "GRUCore",
    "IRNNCore",
    "LSTMCore",
    "RecurrentCore",
    "available_cores",
    "make_core",
    "register_core",
]
