"""Associative LSTM (Danihelka, Wayne, Uria, Kalchbrenner & Graves, ICML 2016) as a core.

An LSTM whose cell is a set of holographic associative memories: complex vectors in which
values are stored bound to keys by element-wise complex multiplication, with redundant
copies (each key permuted by a fixed random permutation) to reduce retrieval noise. Per step,
from [x(t), h(t−1)]:

    gates  f, i, o = σ(·)                 (H/2 each, shared by real and imaginary parts)
    u              = bound(W_u [x, h])     complex value to write, H/2 complex numbers
    r_in, r_out    = bound(W_r [x, h])     complex input and output keys
    c_s(t)  = f ⊙ c_s(t−1) + (P_s r_in) ⊛ (i ⊙ u)          for copy s = 1 … n_copies
    h(t)    = o ⊙ bound( mean_s (P_s r_out) ⊛ c_s(t) )

⊛ is element-wise complex multiplication and bound(z) = z / max(1, |z|) element-wise, as in
the paper. The hidden size H counts real units (H/2 complex numbers), so a model with
``hidden_size=R`` has R outputs like the other cores. State: ``(h, c)`` with h (L, B, H) and
c (L, B, n_copies·H). This core backs the A-LSTM row of the paper's Table 1.

On the CPU (``backend="auto"`` or ``"numba"``) each step's cell runs compiled, forward and a
hand-derived backward (``_alstm_kernels``), with the step's matrix products in torch; the same
equations in torch operations (``backend="torch"``, any device) and the first, step-by-step
implementation (:meth:`AssociativeLSTMCore._forward_stepwise`) are the references it is tested against.
"""

from __future__ import annotations

import torch
from torch import nn

from fw_agents.cores.base import (
    RecurrentCore,
    State,
    _check_backend,
    _check_dropout,
    _check_positive_int,
    register_core,
    use_numba,
)
from fw_agents.cores.fast_weights import _parallel


def _bound(re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = torch.clamp(torch.sqrt(re * re + im * im), min=1.0)
    return re / scale, im / scale


@register_core("alstm")
class AssociativeLSTMCore(RecurrentCore):
    """Associative LSTM core; ``hidden_size`` must be even (real + imaginary halves).

    :param n_copies: redundant copies of the memory (keys permuted per copy; copy 0 unpermuted).
    :param seed: seeds the copies' fixed permutations.
    :param backend: ``"numba"`` (compiled cell, CPU), ``"torch"`` (eager, any device) or ``"auto"``
        (numba on the CPU).
    """

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1, dropout: float = 0.0,
                 n_copies: int = 4, seed: int = 0, backend: str = "auto") -> None:  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers)
        if hidden_size % 2:
            raise ValueError(f"hidden_size must be even for the associative LSTM (complex units), got {hidden_size}")
        _check_positive_int("n_copies", n_copies)
        _check_dropout(dropout)
        _check_backend(backend)
        self.n_copies = n_copies
        self.seed = seed
        self.backend = backend
        self.drop = nn.Dropout(float(dropout))
        half = hidden_size // 2
        # per layer: 3 gates (H/2 each) + u, r_in, r_out (H each, re and im halves)
        self.linears = nn.ModuleList(
            nn.Linear((input_size if layer == 0 else hidden_size) + hidden_size, 3 * half + 3 * hidden_size)
            for layer in range(num_layers)
        )
        gen = torch.Generator().manual_seed(seed)
        perms = torch.stack([torch.randperm(half, generator=gen) for _ in range(n_copies)])
        perms[0] = torch.arange(half)
        self.register_buffer("perms", perms, persistent=True)

    def settings(self) -> dict[str, object]:
        """Every constructor option but the sizes (see :meth:`RecurrentCore.settings`)."""
        return {"dropout": self.drop.p, "n_copies": self.n_copies, "seed": self.seed, "backend": self.backend}

    def state_shapes(self) -> list[tuple[int, ...]]:
        return [(self.num_layers, self.hidden_size), (self.num_layers, self.n_copies * self.hidden_size)]

    def _step(self, layer: int, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        half = self.hidden_size // 2
        batch = x.shape[0]
        pre = self.linears[layer](torch.cat([x, h], dim=1))
        gates = torch.sigmoid(pre[:, : 3 * half])
        f, i, o = gates[:, :half], gates[:, half : 2 * half], gates[:, 2 * half :]
        rest = pre[:, 3 * half :].view(batch, 3, 2, half)  # (u, r_in, r_out) × (re, im)
        u_re, u_im = _bound(rest[:, 0, 0], rest[:, 0, 1])
        ri_re, ri_im = _bound(rest[:, 1, 0], rest[:, 1, 1])
        ro_re, ro_im = _bound(rest[:, 2, 0], rest[:, 2, 1])
        # copies: keys permuted by fixed permutations, (B, n_copies, H/2)
        ri_re, ri_im = ri_re[:, self.perms], ri_im[:, self.perms]
        ro_re, ro_im = ro_re[:, self.perms], ro_im[:, self.perms]
        c = c.view(batch, self.n_copies, 2, half)
        c_re, c_im = c[:, :, 0], c[:, :, 1]
        w_re, w_im = (i * u_re).unsqueeze(1), (i * u_im).unsqueeze(1)
        f = f.unsqueeze(1)
        c_re = f * c_re + ri_re * w_re - ri_im * w_im
        c_im = f * c_im + ri_re * w_im + ri_im * w_re
        read_re = (ro_re * c_re - ro_im * c_im).mean(dim=1)
        read_im = (ro_re * c_im + ro_im * c_re).mean(dim=1)
        read_re, read_im = _bound(read_re, read_im)
        h = torch.cat([o * read_re, o * read_im], dim=1)
        return h, torch.stack([c_re, c_im], dim=2).reshape(batch, -1)

    def _expanded_projection(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer's weight and bias with the key rows repeated per copy in permuted order.

        Permuting a projection's output is permuting its weight's rows, so every copy's permuted
        keys come out of the one matrix product a step, and the gather runs once per sequence on the
        weight instead of four times a step on activations. Rows: gates (3·H/2), u (re, im), then
        r_in re, r_in im, r_out re, r_out im, each n_copies·H/2 long, copy-major.
        """
        half = self.hidden_size // 2
        keys = self.perms.reshape(-1)
        index = torch.cat([torch.arange(5 * half, device=keys.device)]
                          + [(5 + k) * half + keys for k in range(4)])  # fmt: skip
        linear = self.linears[layer]
        return linear.weight[index], linear.bias[index]

    def _forward(
        self, x: torch.Tensor, state: State, episode_starts: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        """Per layer: the input part of every step's projection in one matrix product, then the time
        loop of :class:`_CellFunction` (compiled cell); :meth:`_forward_torch` off the CPU or when asked."""
        if not use_numba(self.backend, x):
            return self._forward_torch(x, state, episode_starts)
        h_all, c_all = state
        keep = None if episode_starts is None else 1.0 - episode_starts
        new_h, new_c = [], []
        out = x
        for layer in range(self.num_layers):
            if layer > 0:
                out = self.drop(out)
            linear = self.linears[layer]
            n_in = linear.in_features - self.hidden_size
            pre_x = torch.nn.functional.linear(out, linear.weight[:, :n_in], linear.bias)
            batch = out.shape[1]
            c0 = c_all[layer].view(batch, self.n_copies, 2, self.hidden_size // 2)
            out, c = _CellFunction.apply(pre_x, linear.weight[:, n_in:].t(), h_all[layer], c0, keep, self.perms)
            new_h.append(out[-1])
            new_c.append(c.reshape(batch, -1))
        return out, (torch.stack(new_h), torch.stack(new_c))

    def _forward_torch(
        self, x: torch.Tensor, state: State, episode_starts: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        """The equations of :meth:`_step` with fewer operations a step: the input part of every step's
        projection in one matrix product, and the permuted key copies produced by the projection
        itself (:meth:`_expanded_projection`). Equal to :meth:`_forward_stepwise` (tested)."""
        h_all, c_all = state
        new_h, new_c = [], []
        out = x
        half, copies = self.hidden_size // 2, self.n_copies
        for layer in range(self.num_layers):
            if layer > 0:
                out = self.drop(out)
            weight, bias = self._expanded_projection(layer)
            n_in = weight.shape[1] - self.hidden_size
            # all steps' input parts at once; unbind, not pre_x[t]: indexing's backward fills a zero
            # tensor the size of pre_x at every step
            pre_x = torch.nn.functional.linear(out, weight[:, :n_in], bias).unbind(0)
            w_h = weight[:, n_in:].t()
            h = h_all[layer]
            batch = h.shape[0]
            c = c_all[layer].view(batch, copies, 2, half)
            c_re, c_im = c.unbind(2)
            sizes = [3 * half, half, half, 4 * copies * half]
            ys = []
            for t, pre_t in enumerate(pre_x):
                if episode_starts is not None:
                    keep = 1.0 - episode_starts[t].unsqueeze(1)
                    h, c_re, c_im = h * keep, c_re * keep.unsqueeze(1), c_im * keep.unsqueeze(1)
                # split, not slices: a slice's backward fills a zero tensor the size of pre, every time
                gates, u_re, u_im, keys = torch.addmm(pre_t, h, w_h).split(sizes, dim=1)
                f, i, o = torch.sigmoid(gates).chunk(3, dim=1)
                u_re, u_im = _bound(u_re, u_im)
                ri_re, ri_im, ro_re, ro_im = keys.view(batch, 4, copies, half).unbind(1)
                ri_re, ri_im = _bound(ri_re, ri_im)
                ro_re, ro_im = _bound(ro_re, ro_im)
                w_re, w_im = (i * u_re).unsqueeze(1), (i * u_im).unsqueeze(1)
                f = f.unsqueeze(1)
                c_re, c_im = f * c_re + ri_re * w_re - ri_im * w_im, f * c_im + ri_re * w_im + ri_im * w_re
                read_re, read_im = _bound((ro_re * c_re - ro_im * c_im).mean(1), (ro_re * c_im + ro_im * c_re).mean(1))
                h = torch.cat([o * read_re, o * read_im], dim=1)
                ys.append(h)
            out = torch.stack(ys)
            new_h.append(h)
            new_c.append(torch.stack([c_re, c_im], dim=2).reshape(batch, -1))
        return out, (torch.stack(new_h), torch.stack(new_c))

    def _forward_stepwise(
        self, x: torch.Tensor, state: State, episode_starts: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        """The first implementation, step by step in real arithmetic (:meth:`_step`): the reference."""
        h_all, c_all = state
        new_h, new_c = [], []
        out = x
        for layer in range(self.num_layers):
            if layer > 0:
                out = self.drop(out)
            h, c = h_all[layer], c_all[layer]
            ys = []
            for t in range(out.shape[0]):
                if episode_starts is not None:
                    keep = (1.0 - episode_starts[t]).unsqueeze(1)
                    h, c = h * keep, c * keep
                h, c = self._step(layer, out[t], h, c)
                ys.append(h)
            out = torch.stack(ys)
            new_h.append(h)
            new_c.append(c)
        return out, (torch.stack(new_h), torch.stack(new_c))


class _CellFunction(torch.autograd.Function):
    """One layer's time loop: each step's projection ``pre_x[t] + h(t−1) W_h`` in torch (the keys once,
    not once per copy), the cell compiled (``_alstm_kernels``, which reads each copy's keys through its
    permutation), and the hand-derived backward through both; W_h's gradient in one matrix product
    over all steps at the end."""

    @staticmethod
    def forward(ctx, pre_x, w_h, h0, c0, keep, perms):  # type: ignore[override]
        from fw_agents.cores import _alstm_kernels as kernels

        pre_x, w_h, perms = pre_x.detach(), w_h.detach(), perms.numpy()
        seq_len, batch = pre_x.shape[:2]
        parallel = _parallel(seq_len, batch)
        cell = kernels.cell_forward_parallel if parallel else kernels.cell_forward_serial
        pre = torch.empty_like(pre_x)
        cells = c0.new_empty(seq_len + 1, *c0.shape)  # index t: the cell carried into step t
        cells[0] = c0.detach()
        h_prev = h0.new_empty(seq_len, *h0.shape)  # the hidden state carried into step t
        out = h0.new_empty(seq_len, *h0.shape)
        h = h0.detach()
        for t in range(seq_len):
            if keep is not None:
                h = h * keep[t].unsqueeze(1)
                cells[t] *= keep[t].view(-1, 1, 1, 1)
            h_prev[t] = h
            torch.addmm(pre_x[t], h, w_h, out=pre[t])
            cell(pre[t].numpy(), perms, cells[t].numpy(), out[t].numpy(), cells[t + 1].numpy())
            h = out[t]
        ctx.save_for_backward(pre, cells, h_prev, w_h, keep)
        ctx.parallel, ctx.perms = parallel, perms
        return out, cells[-1].clone()

    @staticmethod
    def backward(ctx, g_out, g_end):  # type: ignore[override]
        from fw_agents.cores import _alstm_kernels as kernels

        pre, cells, h_prev, w_h, keep = ctx.saved_tensors
        cell = kernels.cell_backward_parallel if ctx.parallel else kernels.cell_backward_serial
        seq_len = pre.shape[0]
        g_pre = torch.empty_like(pre)
        g_c = cells.new_zeros(cells.shape[1:]) if g_end is None else g_end.contiguous().clone()
        g_h = h_prev.new_zeros(h_prev.shape[1:])
        for t in reversed(range(seq_len)):
            g_ht = g_h if g_out is None else g_out[t] + g_h
            cell(pre[t].numpy(), ctx.perms, cells[t].numpy(), g_ht.contiguous().numpy(), g_c.numpy(), g_pre[t].numpy())
            g_h = g_pre[t] @ w_h.t()
            if keep is not None:
                g_h *= keep[t].unsqueeze(1)
                g_c *= keep[t].view(-1, 1, 1, 1)
        g_w = h_prev.flatten(0, 1).t() @ g_pre.flatten(0, 1)
        return g_pre, g_w, g_h, g_c, None, None
