"""The package's default fast-weight core: an LSTM with a delta-rule fast-weight memory beside it.

One layer, hidden size H, input x(t) of size F, ``heads`` memory heads with keys of size d_k
(``key_size``) and values of size d_v = ⌈H / heads⌉. At every step t:

    h(t), c(t) = LSTM( x(t), h(t−1), c(t−1) )                  the slow core (torch's nn.LSTM)
    p(t)       = P [h(t); x(t)] + p₀                           one projection, split per head into
    q, k, v, w = p(t)                                           query, key, value, write logit
    κ = k / ‖k‖,  β = σ(w)                                      unit key, write strength in (0, 1)
    A(t) = λ A(t−1) + β ( v − λ A(t−1) κ ) κᵀ                   fast weights, the delta rule
    r(t) = A(t) q                                               the read-out
    y(t) = h(t) + g ⊙ N(r(t)) + b                               N: each head's read normalised
                                                                over its d_v values (no gain/bias)

per head, with A a d_v × d_k matrix; the heads' reads, concatenated, give N(r(t)) its first H
values (all of them when ``heads`` divides H). The delta rule *replaces* what the memory held at key κ by
β of the new value instead of adding to it (Schlag, Irie & Schmidhuber 2021), so a stream of
similar steps overwrites one slot rather than piling up and drowning an earlier, different one;
the read-out is a lookup, not a decayed sum. g starts at 0 (``gate_init``): the untrained core
is exactly an LSTM, as quick to learn reactive control, while the memory is written from the
first step, so the gradient on g finds whatever the memory holds that predicts the return. λ is
fixed per head and spread over time scales
(``spread_decays``: τ = 4 … 100 steps and one head that never forgets). The memory is written
whether or not a gradient will ever reach the write: it carries information across rollout
boundaries that back-propagation through time cannot. An episode start
clears h, c and A. ``rule="add"`` drops the δ term (A(t) = λA(t−1) + β v κᵀ), for ablation.

Two paths compute the same numbers: compiled loops (numba, ``_memory_kernels``) with a hand-derived
backward that recomputes A per chunk of :data:`CHUNK` steps from checkpoints, the CPU default; and
the equations step by step in torch (``backend="torch"``, any device). A single step without
autograd — a rollout's, for the actor and the critic at every env step — takes a short way through
the same operations (``_rollout_step``: the LSTM's fused cell, the projection, one compiled memory
step), bit for bit the recorded path's numbers. The state is ``(h, c, A)``:
(L, B, H), (L, B, H) and (L, B, heads, d_k, d_v), A transposed per head.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fw_agents.cores.base import (
    RecurrentCore,
    State,
    _check_backend,
    _check_dropout,
    _check_positive_int,
    register_core,
    run_in_segments,
    run_rnn,
    set_forget_bias,
    stack_layers,
    use_numba,
)

RULES = ("delta", "add")


def spread_decays(heads: int, shortest: float = 4.0, longest: float = 100.0) -> list[float]:
    """λ per head: the last head never forgets (λ = 1); the others have time constants τ spaced
    geometrically from ``shortest`` to ``longest`` steps, λ = 1 − 1/τ."""
    if heads == 1:
        return [1.0]
    n = heads - 1
    taus = [shortest * (longest / shortest) ** (i / max(n - 1, 1)) for i in range(n)]
    return [1.0 - 1.0 / tau for tau in taus] + [1.0]


@register_core("fw-lstm")
class FastWeightLSTM(RecurrentCore):
    """``"fw-lstm"``: an LSTM with a delta-rule fast-weight memory (equations in the module docstring),
    the package's default core (``"fw"``). ``"fw-rnn"`` and ``"fw-paper"`` are the Ba et al. cores.

    :param input_size: F, features per step.
    :param hidden_size: H, the LSTM's units and the output size.
    :param num_layers: stacked layers; layer l+1 reads layer l's outputs y.
    :param heads: memory heads (default 4); each holds a ⌈H / heads⌉ × ``key_size`` matrix.
    :param key_size: d_k, the key and query size per head (default 8).
    :param decays: λ per head (default ``spread_decays(heads)``), each in [0, 1].
    :param rule: ``"delta"`` (default) or ``"add"`` (Hebbian accumulation, for ablation).
    :param gate_init: the read-out gate g's initial value, every unit (default 0: the core starts
        as the plain LSTM, its memory written from the first step, and learns to read it).
    :param forget_bias: the LSTM's forget-gate bias at the start, every layer (default ``None``:
        torch's init, about 0, a gate near ½); see :func:`~fw_agents.cores.base.set_forget_bias`.
    :param dropout: dropout between stacked layers (not after the last), as in ``nn.LSTM``.
    :param backend: ``"numba"`` (compiled, CPU), ``"torch"`` (eager, any device) or ``"auto"``.
    :param eps: ε of the key and read-out normalisations.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        heads: int = 4,
        key_size: int = 8,
        decays: list[float] | tuple[float, ...] | None = None,
        rule: str = "delta",
        gate_init: float = 0.0,
        forget_bias: float | None = None,
        dropout: float = 0.0,
        backend: str = "auto",
        eps: float = 1e-5,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers)
        _check_positive_int("heads", heads)
        _check_positive_int("key_size", key_size)
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
        _check_backend(backend)
        _check_dropout(dropout)
        decays = spread_decays(heads) if decays is None else [float(d) for d in decays]
        if len(decays) != heads or not all(0.0 <= d <= 1.0 for d in decays):
            raise ValueError(f"decays must be {heads} values in [0, 1] (one per head), got {decays!r}")
        self.heads = heads
        self.key_size = key_size
        self.value_size = -(-hidden_size // heads)
        self.decays = decays
        self.rule = rule
        self.gate_init = float(gate_init)
        self.forget_bias = forget_bias
        self.dropout = float(dropout)
        self.backend = backend
        self.eps = float(eps)
        self.drop = nn.Dropout(self.dropout)
        self.lstm = nn.ModuleList()
        self.proj = nn.ModuleList()
        self.gate = nn.ParameterList()
        self.shift = nn.ParameterList()
        width = heads * (2 * key_size + self.value_size + 1)
        for layer in range(num_layers):
            fan_in = input_size if layer == 0 else hidden_size
            self.lstm.append(nn.LSTM(fan_in, hidden_size))
            set_forget_bias(self.lstm[layer], forget_bias)
            self.proj.append(nn.Linear(hidden_size + fan_in, width))
            self.gate.append(nn.Parameter(torch.full((hidden_size,), self.gate_init)))
            self.shift.append(nn.Parameter(torch.zeros(hidden_size)))

    def settings(self) -> dict[str, object]:
        """Every constructor option but the sizes: ``FastWeightLSTM(F, H, num_layers=L, **settings())``
        rebuilds this core, whatever the defaults of a later version."""
        names = ("heads", "key_size", "decays", "rule", "gate_init", "forget_bias", "dropout", "backend", "eps")
        return {name: getattr(self, name) for name in names}

    def extra_repr(self) -> str:
        options = ", ".join(f"{name}={value!r}" for name, value in self.settings().items())
        return f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, {options}"

    def state_shapes(self) -> list[tuple[int, ...]]:
        layers, hidden = self.num_layers, self.hidden_size
        return [(layers, hidden), (layers, hidden), (layers, self.heads, self.key_size, self.value_size)]

    # --------------------------------------------------------------- forward
    def _forward(
        self, x: torch.Tensor, state: State, episode_starts: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        if x.shape[0] == 1 and not torch.is_grad_enabled() and use_numba(self.backend, x):
            return self._rollout_step(x, state, episode_starts)
        h_all, c_all, a_all = state
        keep = None if episode_starts is None else 1.0 - episode_starts
        new_h, new_c, new_a = [], [], []
        out = x
        for layer in range(self.num_layers):
            if layer > 0:
                out = self.drop(out)
            hs, h_last, c_last = self._slow(layer, out, h_all[layer], c_all[layer], episode_starts)
            read, a_last = self.memory(self.project(layer, hs, out), a_all[layer], keep)
            out = torch.addcmul(hs + self.shift[layer], self.gate[layer], read)
            new_h.append(h_last)
            new_c.append(c_last)
            new_a.append(a_last)
        return out, (stack_layers(new_h), stack_layers(new_c), stack_layers(new_a))

    def _rollout_step(
        self, x: torch.Tensor, state: State, episode_starts: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        """:meth:`_forward` for one step without autograd (a rollout's: the actor and the critic at
        every env step), the same operations on the same numbers without the sequence machinery:
        the LSTM's fused cell, the projection's two products, the compiled memory step."""
        h_all, c_all, a_all = state
        batch, hidden = x.shape[1], self.hidden_size
        keep = x.new_ones(1, batch) if episode_starts is None else 1.0 - episode_starts
        sizes = (self.heads, self.key_size, self.value_size)
        out, new_h, new_c, new_a = x[0], [], [], []
        for layer in range(self.num_layers):
            if layer > 0:
                out = self.drop(out)
            h0, c0 = h_all[layer], c_all[layer]
            if episode_starts is not None:
                h0, c0 = h0 * keep[0, :, None], c0 * keep[0, :, None]
            h, c = torch.lstm_cell(out, (h0, c0), *self.lstm[layer]._flat_weights)
            weight = self.proj[layer].weight
            p = torch.addmm(torch.addmm(self.proj[layer].bias, h, weight[:, :hidden].t()), out, weight[:, hidden:].t())
            read, a_last = _memory_step(p[None], keep, a_all[layer], self.lam(p), self.delta, self.eps, sizes)
            out = torch.addcmul(h + self.shift[layer], self.gate[layer], read.view(batch, -1)[:, :hidden])
            new_h.append(h)
            new_c.append(c)
            new_a.append(a_last)
        return out[None], (stack_layers(new_h), stack_layers(new_c), stack_layers(new_a))

    def _slow(
        self, layer: int, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, starts: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The LSTM over the sequence, one fused call per stretch without an episode start."""
        lstm = self.lstm[layer]

        def step(seg: torch.Tensor, st: State) -> tuple[torch.Tensor, State]:
            y, (h, c) = run_rnn(lstm, seg, (st[0], st[1]))
            return y, (h, c)

        hs, (h_last, c_last) = run_in_segments(step, x, (h0[None], c0[None]), starts)
        return hs, h_last[0], c_last[0]

    def project(self, layer: int, hs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """p = P [h; x] + p₀ (T, B, heads·(2 d_k + d_v + 1)); :func:`_split` gives its q, k, v, w.

        Computed as P_h h + P_x x + p₀ from the two column blocks of P, so no [h; x] is built (and
        kept for the backward): h and x are kept by the LSTM already."""
        proj = self.proj[layer]
        hidden = self.hidden_size
        return torch.addmm(
            F.linear(hs, proj.weight[:, :hidden], proj.bias).flatten(0, -2),
            x.flatten(0, -2),
            proj.weight[:, hidden:].t(),
        ).view(*hs.shape[:-1], -1)

    def projections(self, layer: int, hs: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """q, k (T, B, heads, d_k), v (T, B, heads, d_v) and the write logit w (T, B, heads)."""
        return _split(self.project(layer, hs, x), self.heads, self.key_size, self.value_size)

    @property
    def delta(self) -> float:
        """δ of the write: 1 for the delta rule, 0 for the add rule."""
        return 1.0 if self.rule == "delta" else 0.0

    def lam(self, like: torch.Tensor) -> torch.Tensor:
        """λ per head, (heads,), in ``like``'s dtype and device (exact for float64 tests)."""
        key = (tuple(self.decays), like.dtype, like.device)
        cached = self.__dict__.get("_lam")
        if cached is None or cached[0] != key:
            cached = (key, torch.tensor(self.decays, dtype=like.dtype, device=like.device))
            self.__dict__["_lam"] = cached
        return cached[1]

    def memory(self, p: torch.Tensor, a0: torch.Tensor, keep: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """N(r(t)) for every step from the projection ``p``, flattened to (T, B, H), and A after the last step."""
        if keep is None:
            keep = p.new_ones(p.shape[:2])
        if use_numba(self.backend, p):
            sizes = (self.heads, self.key_size, self.value_size)
            args = (p, keep, a0, self.lam(p), self.delta, self.eps, sizes)
            if torch.is_grad_enabled() and (p.requires_grad or a0.requires_grad):
                read, a_last = _MemoryFunction.apply(*args)
            elif p.shape[0] == 1:  # a rollout's step, for the actor and the critic at every env step
                read, a_last = _memory_step(*args)
            else:  # evaluation and other sequences without a gradient: no checkpoints, no autograd record
                read, _, a_last, *_ = _memory_numba(*args, None)
        else:
            q, k, v, w = _split(p, self.heads, self.key_size, self.value_size)
            read, a_last = self._memory_torch(q, k, v, w, keep, a0, self.delta)
        return read.flatten(-2)[..., : self.hidden_size], a_last

    def _memory_torch(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, w: torch.Tensor, keep: torch.Tensor,
        a0: torch.Tensor, delta: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """The equations step by step, Aᵀ (B, heads, d_k, d_v) updated every step."""
        lam = self.lam(q).view(1, -1, 1, 1)
        kappa = F.normalize(k, dim=-1, eps=self.eps)
        beta = torch.sigmoid(w)[..., None, None]
        a, reads = a0, []
        for t in range(q.shape[0]):
            a = a * (lam * keep[t].view(-1, 1, 1, 1))
            write = v[t] - delta * torch.einsum("bhkv,bhk->bhv", a, kappa[t])
            a = a + beta[t] * kappa[t].unsqueeze(-1) * write.unsqueeze(-2)
            reads.append(torch.einsum("bhkv,bhk->bhv", a, q[t]))
        read = torch.stack(reads)
        return F.layer_norm(read, (self.value_size,), eps=self.eps), a

    @torch.no_grad()
    def read_weights(self, x: torch.Tensor) -> torch.Tensor:
        """What layer 0 reads at the last step of an episode ``x`` (T, F), from the empty memory:
        per head, r(T−1) = Σ_j w_j v(j) over the values written at every step j, with

            w_j = β(j) κ(j)ᵀ M_j q(T−1),   M_j = Π_{i=j+1}^{T−1} λ (I − δ β(i) κ(i) κ(i)ᵀ)

        (M_j = λ^{T−1−j} I for the add rule). Returns w, (heads, T), oldest step first.
        """
        x = x[:, None]
        zeros = x.new_zeros(1, self.hidden_size)
        hs, _, _ = self._slow(0, x, zeros, zeros, None)
        q, k, _, w = self.projections(0, hs, x)
        kappa, beta = F.normalize(k[:, 0], dim=-1, eps=self.eps), torch.sigmoid(w[:, 0])
        lam, delta = self.lam(x)[:, None], self.delta
        p = q[-1, 0]  # (heads, d_k): M_j q, carried backwards
        weights = x.new_zeros(self.heads, x.shape[0])
        for j in range(x.shape[0] - 1, -1, -1):
            dot = (kappa[j] * p).sum(-1, keepdim=True)
            weights[:, j] = beta[j] * dot[:, 0]
            p = lam * (p - delta * beta[j][:, None] * kappa[j] * dot)
        return weights

    @torch.no_grad()
    def memory_diagnostics(
        self, x: torch.Tensor, state: State | None = None, episode_starts: torch.Tensor | None = None
    ) -> dict[str, float]:
        """Does the core use its memory? Per layer ``l``, over a batch of sequences:

        * ``read_ratio/l``: ‖g ⊙ N(r)‖ / ‖h‖, the memory's share of the output against the LSTM's,
          averaged over steps and examples (0: the memory is shut);
        * ``gate_abs/l``: mean |g|;  ``write/l``: the mean write strength β.
        """
        if state is None:
            state = self.initial_state(x.shape[1], device=x.device, dtype=x.dtype)
        starts = None if episode_starts is None else episode_starts.to(x)
        keep = None if starts is None else 1.0 - starts
        out, stats = x, {}
        for layer in range(self.num_layers):
            hs, _, _ = self._slow(layer, out, state[0][layer], state[1][layer], starts)
            p = self.project(layer, hs, out)
            read, _ = self.memory(p, state[2][layer], keep)
            gated = self.gate[layer] * read
            stats[f"read_ratio/{layer}"] = float((gated.norm(dim=-1) / hs.norm(dim=-1).clamp_min(1e-8)).mean())
            stats[f"gate_abs/{layer}"] = float(self.gate[layer].abs().mean())
            w = _split(p, self.heads, self.key_size, self.value_size)[3]
            stats[f"write/{layer}"] = float(torch.sigmoid(w).mean())
            out = torch.addcmul(hs + self.shift[layer], self.gate[layer], read)
        return stats


def _split(p: torch.Tensor, heads: int, dk: int, dv: int) -> tuple[torch.Tensor, ...]:
    """The projection (…, heads·(2 d_k + d_v + 1)) as views q, k (…, heads, d_k), v (…, heads, d_v), w (…, heads)."""
    q, k, v, w = torch.split(p, [heads * dk, heads * dk, heads * dv, heads], dim=-1)
    return q.unflatten(-1, (heads, dk)), k.unflatten(-1, (heads, dk)), v.unflatten(-1, (heads, dv)), w


# Steps between the matrices the compiled forward keeps for the backward (which recomputes the rest)
CHUNK = 16


def _scalars(like: np.ndarray, *values: float) -> tuple[np.generic, ...]:
    """``values`` as scalars of ``like``'s dtype: the kernels then compute a float32 memory in float32
    throughout (a Python float would make every operation it touches a float64 one)."""
    return tuple(like.dtype.type(value) for value in values)


def _memory_numba(
    p: torch.Tensor, keep: torch.Tensor, a0: torch.Tensor, lam: torch.Tensor, delta: float, eps: float,
    sizes: tuple[int, int, int], chunk: int | None,
) -> tuple[torch.Tensor, ...]:  # fmt: skip
    """Run the compiled forward on detached tensors (``_memory_kernels``; q, k, v, w read in place
    from ``p``). Returns the reads (T, B, heads, d_v), their 1/std (T, B, heads), the last Aᵀ
    (B, heads, d_k, d_v), the checkpoints (one Aᵀ every ``chunk`` steps from the carried one; none
    when ``chunk`` is None) and the contiguous ``p``, ``keep`` and λ, for the backward.
    """
    from fw_agents.cores import _memory_kernels as kernels
    from fw_agents.cores.fast_weights import _parallel

    heads, _, dv = sizes
    seq_len, batch = p.shape[:2]
    p = p.detach().contiguous()
    keep = keep.detach().to(p.dtype).contiguous()
    a0 = a0.detach().contiguous()
    lam = lam.detach().to(p.dtype).contiguous()
    out = p.new_empty(seq_len, batch, heads, dv)
    rstd = p.new_empty(seq_len, batch, heads)
    a_last = torch.empty_like(a0)
    if chunk is None:
        chunk, ckpt = seq_len, a0.new_empty(0, *a0.shape)
    else:
        ckpt = a0.new_empty(-(-seq_len // chunk), *a0.shape)
        ckpt[0] = a0
    p_np = p.numpy()
    fn = kernels.memory_forward_parallel if _parallel(seq_len, batch) else kernels.memory_forward_serial
    fn(p_np, keep.numpy(), lam.numpy(), *_scalars(p_np, delta, eps), a0.numpy(), ckpt.numpy(), chunk, out.numpy(),
       rstd.numpy(), a_last.numpy())  # fmt: skip
    return out, rstd, a_last, ckpt, p, keep, lam


def _memory_step(
    p: torch.Tensor, keep: torch.Tensor, a0: torch.Tensor, lam: torch.Tensor, delta: float, eps: float,
    sizes: tuple[int, int, int],
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """One step (T = 1) without autograd through ``_memory_kernels.memory_step``: the reads
    (1, B, heads, d_v) and the new Aᵀ, the numbers :func:`_memory_numba` gives for that step."""
    from fw_agents.cores import _memory_kernels as kernels

    heads, _, dv = sizes
    p = p.detach()[0].contiguous()
    a0 = a0.detach().contiguous()
    out = p.new_empty(1, p.shape[0], heads, dv)
    a_last = torch.empty_like(a0)
    p_np = p.numpy()
    kernels.memory_step(p_np, keep.detach()[0].to(p.dtype).contiguous().numpy(), lam.to(p.dtype).numpy(),
                        *_scalars(p_np, delta, eps), a0.numpy(), out[0].numpy(), a_last.numpy())  # fmt: skip
    return out, a_last


class _MemoryFunction(torch.autograd.Function):
    """The memory's time loop compiled (``_memory_kernels``), with its hand-derived backward; it takes
    the whole projection p (T, B, P) and returns its whole gradient, so nothing is split or joined.
    The forward keeps Aᵀ every :data:`CHUNK` steps; the backward recomputes each chunk's matrices."""

    @staticmethod
    def forward(ctx, p, keep, a0, lam, delta, eps, sizes):  # type: ignore[override]
        chunk = CHUNK
        out, rstd, a_last, ckpt, p, keep, lam = _memory_numba(p, keep, a0, lam, delta, eps, sizes, chunk)
        ctx.save_for_backward(p, keep, lam, ckpt, out, rstd)
        ctx.settings = (delta, eps, chunk)
        return out, a_last

    @staticmethod
    def backward(ctx, g_out, g_end):  # type: ignore[override]
        from fw_agents.cores import _memory_kernels as kernels
        from fw_agents.cores.fast_weights import _parallel

        p, keep, lam, ckpt, out, rstd = ctx.saved_tensors
        delta, eps, chunk = ctx.settings
        g_out = torch.zeros_like(out) if g_out is None else g_out.contiguous()
        g_end = torch.zeros_like(ckpt[0]) if g_end is None else g_end.contiguous()
        dp = torch.empty_like(p)
        da0 = torch.empty_like(ckpt[0])
        seq_len, batch = p.shape[:2]
        p_np = p.numpy()
        fn = kernels.memory_backward_parallel if _parallel(seq_len, batch) else kernels.memory_backward_serial
        fn(g_out.numpy(), g_end.numpy(), p_np, keep.numpy(), lam.numpy(), *_scalars(p_np, delta, eps), ckpt.numpy(),
           chunk, out.numpy(), rstd.numpy(), dp.numpy(), da0.numpy())  # fmt: skip
        return dp, None, da0, None, None, None, None
