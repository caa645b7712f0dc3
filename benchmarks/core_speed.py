"""Forward+backward time and BPTT memory of every core, as ratios to torch's LSTM.

    python benchmarks/core_speed.py            # the README's table
    python benchmarks/core_speed.py --quick    # a smoke run

All cores are measured in one process, interleaved round by round (the median of the
rounds is reported), so the ratios compare like with like on this machine. "BPTT memory"
is the bytes of tensors autograd keeps for the backward pass (parameters excluded),
counted through ``torch.autograd.graph.saved_tensors_hooks``: it is what grows with T.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from fw_agents import make_core

CORES = [
    ("lstm (torch)", "lstm", {}),
    ("gru (torch)", "gru", {}),
    ("irnn (torch)", "irnn", {}),
    ("fw-lstm (LSTM + delta memory)", "fw-lstm", {}),  # the shipped core
    ("fw-lstm, torch loop", "fw-lstm", {"backend": "torch"}),
    ("fw-rnn attention S=1", "fw-rnn", {"form": "attention", "inner_steps": 1}),
    ("fw-paper attention S=1", "fw-paper", {"form": "attention", "inner_steps": 1}),
    ("fw-rnn attention S=2", "fw-rnn", {"form": "attention", "inner_steps": 2}),
    ("fw-rnn matrix S=1", "fw-rnn", {"form": "matrix", "inner_steps": 1}),
    ("fw-rnn matrix S=2", "fw-rnn", {"form": "matrix", "inner_steps": 2}),
    ("alstm (compiled cell)", "alstm", {}),
    ("alstm, torch forward", "alstm", {"backend": "torch"}),
]
SETTINGS = [(64, 16, 32, 64), (256, 16, 32, 128)]


def saved_bytes(core: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes autograd saves for backward in one forward pass (each storage counted once)."""
    params = {p.untyped_storage().data_ptr() for p in core.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y, _ = core(x)
    y.sum().backward()
    return sum(seen.values())


def time_once(core: torch.nn.Module, x: torch.Tensor, iters: int) -> float:
    start = time.perf_counter()
    for _ in range(iters):
        y, _ = core(x)
        y.sum().backward()
    return (time.perf_counter() - start) / iters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median reported)")
    parser.add_argument("--quick", action="store_true", help="few rounds, for a smoke test")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds = 2 if args.quick else args.rounds
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU")
    print("| T | B | F | H | core | fwd+bwd ms | × LSTM time | BPTT MiB | × LSTM memory |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seq_len, batch, feat, hidden in SETTINGS:
        x = torch.randn(seq_len, batch, feat)
        cores = {label: make_core(name, feat, hidden, **kw) for label, name, kw in CORES}
        iters = {}
        for label, core in cores.items():  # warm up (compiles the numba kernels) and size the loops
            time_once(core, x, 2)
            iters[label] = max(1, int(0.15 / max(time_once(core, x, 1), 1e-4)))
            if args.quick:
                iters[label] = 1
        samples: dict[str, list[float]] = {label: [] for label in cores}
        for _ in range(rounds):
            for label, core in cores.items():
                samples[label].append(time_once(core, x, iters[label]))
        memory = {label: saved_bytes(core, x) for label, core in cores.items()}
        base_t = statistics.median(samples["lstm (torch)"])
        base_m = memory["lstm (torch)"]
        for label in cores:
            t = statistics.median(samples[label])
            m = memory[label]
            print(
                f"| {seq_len} | {batch} | {feat} | {hidden} | {label} | {t * 1e3:.2f} | {t / base_t:.2f} "
                f"| {m / 2**20:.2f} | {m / base_m:.2f} |"
            )
        att, mat = memory["fw-rnn attention S=1"], memory["fw-rnn matrix S=1"]
        print(f"\nT={seq_len} H={hidden}: fw-rnn's attention form keeps {att / mat:.3f} of the matrix form's memory\n")


if __name__ == "__main__":
    main()
