"""Test-wide settings."""

import torch

# The test tensors are tiny: one intra-op thread is faster and keeps timings steady when the
# machine is busy. Tests of the multi-threaded kernels set their own thread count.
torch.set_num_threads(1)
