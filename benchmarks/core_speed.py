"""Forward+backward time and BPTT memory of every core, as ratios to torch's LSTM.

    python benchmarks/core_speed.py            # RESULTS.md's table (machine idle)
    python benchmarks/core_speed.py --quick    # a smoke run, printed only

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
from _common import report

from fw_agents import make_core

SHIPPED = "fw-lstm (LSTM + delta memory)"  # the shipped core's row
CORES = [
    ("lstm (torch)", "lstm", {}),
    ("gru (torch)", "gru", {}),
    ("irnn (torch)", "irnn", {}),
    (SHIPPED, "fw-lstm", {}),
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


def time_fn(fn, iters: int) -> float:
    """Seconds per call of ``fn``, over ``iters`` calls."""
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters


def time_once(core: torch.nn.Module, x: torch.Tensor, iters: int) -> float:
    return time_fn(lambda: core(x)[0].sum().backward(), iters)


def phase_split(seq_len: int, batch: int, feat: int, hidden: int, rounds: int) -> list[str]:
    """Where the default core's forward + backward goes: its fused LSTM, the projection, the memory's
    compiled loops (forward; backward, which recomputes A per chunk; the read's normalisation is
    inside them) and the rest (gate, shift, state), as ms and shares of the whole, medians of rounds."""
    core = make_core("fw-lstm", feat, hidden)
    x = torch.randn(seq_len, batch, feat, requires_grad=True)
    zeros = torch.zeros(batch, hidden)
    a0 = core.initial_state(batch)[2][0]
    hs = core._slow(0, x, zeros, zeros, None)[0].detach().requires_grad_()
    p = core.project(0, hs, x).detach().requires_grad_()
    read = core.memory(p, a0, None)[0]

    def whole() -> None:
        y, _ = core(x)
        y.sum().backward()

    def lstm() -> None:
        core._slow(0, x, zeros, zeros, None)[0].sum().backward()

    def projection() -> None:
        core.project(0, hs, x).sum().backward()

    def memory_forward() -> None:
        core.memory(p, a0, None)

    def memory_backward() -> None:
        torch.autograd.grad(read, p, torch.ones_like(read), retain_graph=True)

    parts = {"whole": whole, "fused LSTM": lstm, "projection": projection, "memory forward": memory_forward,
             "memory backward": memory_backward}  # fmt: skip
    for fn in parts.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(rounds):
        for name, fn in parts.items():
            samples[name].append(min(time_fn(fn, 5) for _ in range(3)))
    ms = {name: statistics.median(values) * 1e3 for name, values in samples.items()}
    ms["rest"] = ms["whole"] - sum(ms[name] for name in parts if name != "whole")
    cells = " | ".join(f"{ms[name]:.2f} ({ms[name] / ms['whole']:.0%})" for name in [*list(parts)[1:], "rest"])
    return [f"| {seq_len} | {batch} | {feat} | {hidden} | {SHIPPED} | {ms['whole']:.2f} | {cells} |"]


# the single-step table's rows: labels of CORES (the same models)
STEP_CORES = ["lstm (torch)", "gru (torch)", SHIPPED, "fw-rnn attention S=1"]
STEP_BATCHES = [16, 32]  # MiniGrid's and MemoryCatch's n_envs


def single_step(batch: int, feat: int, hidden: int, rounds: int, quick: bool) -> list[str]:
    """µs per call of the rollout's step — T = 1, no gradient, the state carried — per core, as
    PPO calls it for the actor and for the critic at every env step, interleaved round by round."""
    x = torch.randn(1, batch, feat)
    starts = torch.zeros(1, batch)
    cores = {label: make_core(name, feat, hidden, **kw) for label, name, kw in CORES if label in STEP_CORES}
    states = {label: core.initial_state(batch) for label, core in cores.items()}
    calls = 20 if quick else 2000
    samples: dict[str, list[float]] = {label: [] for label in cores}
    with torch.no_grad():
        steps = {label: (lambda core=core, st=states[label]: core(x, st, starts)) for label, core in cores.items()}
        for fn in steps.values():  # warm up (compiles the numba kernels)
            time_fn(fn, 20)
        for _ in range(rounds):
            for label, fn in steps.items():
                samples[label].append(time_fn(fn, calls))
    base = statistics.median(samples["lstm (torch)"])
    return [
        f"| 1 | {batch} | {feat} | {hidden} | {label} | {statistics.median(samples[label]) * 1e6:.0f} "
        f"| {statistics.median(samples[label]) / base:.2f} |"
        for label in cores
    ]


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
    lines = [
        "## Core speed and memory: forward + backward against torch's LSTM",
        "",
        f"`python benchmarks/core_speed.py` (torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
        f"float32, CPU, {rounds} interleaved rounds, median; BPTT memory = bytes autograd saves for backward; "
        "idle machine):",
        "",
        "| T | B | F | H | core | fwd+bwd ms | × LSTM time | BPTT MiB | × LSTM memory |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
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
            lines.append(
                f"| {seq_len} | {batch} | {feat} | {hidden} | {label} | {t * 1e3:.2f} | {t / base_t:.2f} "
                f"| {m / 2**20:.2f} | {m / base_m:.2f} |"
            )
        att, mat = memory["fw-rnn attention S=1"], memory["fw-rnn matrix S=1"]
        notes.append(
            f"T={seq_len} H={hidden}: fw-rnn's attention form keeps {att / mat:.3f} of the matrix form's memory."
        )
    lines += ["", " ".join(notes), "", "Where fw-lstm's forward + backward goes (ms, share of the whole):", ""]
    lines += [
        "| T | B | F | H | core | whole | fused LSTM | projection | memory forward | memory backward | rest |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        lines += phase_split(*setting, rounds)
    lines += ["", "The rollout's step (T = 1, no gradient, the state carried: what PPO calls for the actor and for",
              "the critic at every env step; µs per call, median of the rounds):", "",
              "| T | B | F | H | core | µs per step | × LSTM |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for batch in STEP_BATCHES:
        lines += single_step(batch, SETTINGS[0][2], SETTINGS[0][3], rounds, args.quick)
    report("\n".join(lines), "core-speed", args.quick)


if __name__ == "__main__":
    main()
