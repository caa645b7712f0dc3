"""Recurrent cores behind one interface (see :mod:`fw_agents.cores.base`)."""

from fw_agents.cores.alstm import AssociativeLSTMCore
from fw_agents.cores.base import DEFAULT_CORE, RecurrentCore, available_cores, core_name, make_core, register_core
from fw_agents.cores.fast_weights import FastWeightRNN
from fw_agents.cores.feedforward import FeedForwardCore
from fw_agents.cores.fw_memory import FastWeightLSTM
from fw_agents.cores.torch_rnn import GRUCore, IRNNCore, LSTMCore

__all__ = [
    "DEFAULT_CORE",
    "AssociativeLSTMCore",
    "FastWeightLSTM",
    "FastWeightRNN",
    "FeedForwardCore",
    "GRUCore",
    "IRNNCore",
    "LSTMCore",
    "RecurrentCore",
    "available_cores",
    "core_name",
    "make_core",
    "register_core",
]
