"""Test-wide settings."""

import signal
import warnings

import pytest
import torch

# The test tensors are tiny: one intra-op thread is faster and keeps timings steady when the
# machine is busy. Tests of the multi-threaded kernels set their own thread count.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _sigint_handler_restored(request):
    """Every test starts with the SIGINT handler the session started with, whatever an earlier
    test (or a library it ran in-process) installed; a test that leaves another one is named in a
    warning (a handler that swallows Ctrl-C would break the interrupt tests that follow it)."""
    handler = signal.getsignal(signal.SIGINT)
    yield
    left = signal.getsignal(signal.SIGINT)
    if left is not handler:
        warnings.warn(f"{request.node.nodeid} left the SIGINT handler {left!r} (was {handler!r})", stacklevel=1)
    signal.signal(signal.SIGINT, handler)
