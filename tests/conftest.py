"""Test-wide settings."""

import signal

import pytest
import torch

# The test tensors are tiny: one intra-op thread is faster and keeps timings steady when the
# machine is busy. Tests of the multi-threaded kernels set their own thread count.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _sigint_handler_restored():
    """Every test starts with the SIGINT handler the session started with, whatever an earlier
    test (or a library it ran in-process) installed."""
    handler = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, handler)
