"""The paper's associative retrieval task (Ba et al. 2016, section 4.1), supervised.

A sequence holds K key–value pairs (distinct letters a–z as keys, digits 0–9 as values),
then "??", then one of the keys; the target is that key's value. ``"c9k8j3f1??c"`` → 9
(K = 4, length 2K + 3 = 11, vocabulary 26 + 10 + 1 = 37 tokens). The paper used 100,000
training, 10,000 validation and 20,000 test sequences.
"""

from __future__ import annotations

import numpy as np
import torch

from envs.recall import KEYS, VOCAB, sample_retrieval

SPLITS = {"train": 100_000, "valid": 10_000, "test": 20_000}
# Each split draws from its own seed stream, so the splits are independent and reproducible.
SPLIT_OFFSET = {"train": 0, "valid": 1, "test": 2}


def generate(n: int, num_pairs: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences: tokens (n, 2K+3) int64 in [0, 37) and targets (n,) int64 in [0, 10)."""
    if not 1 <= num_pairs <= len(KEYS):
        raise ValueError(f"num_pairs must lie in [1, {len(KEYS)}], got {num_pairs}")
    return sample_retrieval(np.random.default_rng(seed), n, num_pairs)


def split(name: str, num_pairs: int = 4, seed: int = 0, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One of the paper's splits (``train``/``valid``/``test``), deterministic in ``seed``."""
    if name not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {name!r}")
    return generate(size or SPLITS[name], num_pairs, seed=1000 * seed + SPLIT_OFFSET[name])


def decode(tokens: np.ndarray) -> str:
    """``[2, 35, 10, 34, ...]`` → ``"c9k8..."``."""
    return "".join(VOCAB[int(t)] for t in tokens)


def answer(sequence: str) -> int:
    """The value the query key was paired with, read off the text of a sequence."""
    body, query = sequence.split("??")
    pairs = {body[i]: body[i + 1] for i in range(0, len(body), 2)}
    return int(pairs[query])


def to_tensors(tokens: np.ndarray, targets: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.as_tensor(tokens), torch.as_tensor(targets)
