"""The fast-weight RNN of Ba, Hinton, Mnih, Leibo & Ionescu (NIPS 2016).

One layer, hidden size H, input x(t) of size F. With h(t) the hidden state after step t-1's
input and A(t) the fast-weight matrix, the paper's equations are

    A(t)      = λ A(t−1) + η h(t) h(t)ᵀ                      fast weights (A(t) contains h(t))
    h₀(t+1)   = f( W h(t) + C x(t) + b )                      the preliminary vector
    hₛ₊₁(t+1) = f( LN[ W h(t) + C x(t) + b + A(t) hₛ(t+1) ] ), s = 0 … S−1
    h(t+1)    = h_S(t+1)

with f = ReLU and LN the layer normalisation over the H hidden units of each example
(gain ``ln_gain``, bias ``ln_bias``; never over the batch). ``W h(t) + C x(t) + b`` is
computed once per step and reused by every inner step; C x(t) + b is computed for all steps
at once. Parameters map to the paper as: ``W`` ↔ W (slow recurrent weights, H×H), ``C`` ↔ C
(input weights, H×F), ``bias`` ↔ b, ``decay`` ↔ λ, ``fast_lr`` ↔ η, ``inner_steps`` ↔ S.

``FastWeightRNN``'s defaults (``make_core("fw-rnn", …)``; the package's default core before
:class:`FastWeightLSTM`) change how the read-out enters; ``fw-paper`` (:class:`PaperFastWeightRNN`,
``PAPER_SETTINGS``) is the paper's:

    hₛ₊₁(t+1) = f( LN[ W h(t) + C x(t) + b + g ⊙ N(A(t) hₛ(t+1)) ] )

with N a layer normalisation of the read-out without gain or bias (``read_norm``) — its size
no longer grows with η‖h‖²/(1 − λ) — and g a learned gate per hidden unit (``read_gate="unit"``)
that starts spread from closed to open across the units, gᵢ = i/(H − 1) (``gate_init="spread"``):
some units start as a plain layer-normalised RNN that follows the input, others lean on the
memory, and training moves each gate. Options (each ablated in ``benchmarks/fw_ablation.py``):

* ``read_gate``: ``"unit"``, ``"layer"`` (one gate per layer) or ``None`` (no gate, the paper);
  ``gate_init``: a number (0: the memory starts closed) or ``"spread"``.
* ``read_norm``: N as above, or the identity (the paper).
* ``learn_decay`` / ``learn_fast_lr``: λ = sigmoid(θ_λ) and η = softplus(θ_η), learned, one
  each per layer, starting at ``decay`` and ``fast_lr``.

Two forms compute the same numbers:

* ``form="matrix"`` keeps A as a (B, H, H) tensor and updates it every step — the equations
  as written. Back-propagation through time stores one B×H×H tensor per step.
* ``form="attention"`` never builds A inside the sequence. Unrolling the update,
  A(t) v = η Σ_{τ≤t} λ^{t−τ} h(τ) (h(τ)ᵀ v): dot-product attention over the past hidden
  states with decaying weights, so BPTT memory is O(T·H) per example instead of O(T·H²).
  On CPU it runs compiled loops with a hand-derived backward (``_fw_kernels.py``).

The state carried between calls is ``(h, A)``: h (L, B, H) and A (L, B, H, H), both forms
alike. No truncation is made: the attention form adds the carried A's decayed contribution
λ^{t+1} A v exactly, and returns the exact A at the end of the sequence.
An episode start clears h and A of that example before the step, so the all-zero state is
the empty memory.
"""

from __future__ import annotations

import math

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
    use_numba,
)

FORMS = ("matrix", "attention")
GATES = (None, "unit", "layer")


@register_core("fw-rnn")
class FastWeightRNN(RecurrentCore):
    """Fast-weight recurrent core (Ba et al. 2016) with a gated, normalised read-out by default;
    equations in the module docstring. ``PaperFastWeightRNN`` (``"fw-paper"``) is the paper's.

    :param input_size: F, features per step.
    :param hidden_size: H, hidden units per layer.
    :param decay: λ in [0, 1], how fast old memories fade (default 0.95).
    :param fast_lr: η ≥ 0, the fast learning rate (default 0.5). ``0`` gives an LN-ReLU RNN.
    :param inner_steps: S ≥ 1 inner-loop steps (default 1, as in the paper's experiments).
    :param layer_norm: apply LN inside the inner loop (essential in the paper).
    :param num_layers: stacked layers; layer l+1 reads layer l's outputs.
    :param dropout: dropout between stacked layers (not after the last), as in ``nn.LSTM``.
    :param form: ``"matrix"`` or ``"attention"`` (same results, different memory and speed).
    :param recurrent_init_scale: W starts as this multiple of the identity (IRNN style; 0.05).
    :param backend: attention form only: ``"numba"`` (compiled loops, CPU), ``"torch"``
        (eager, any device) or ``"auto"`` (numba on CPU, torch elsewhere).
    :param ln_eps: the ε of the layer normalisation.
    :param read_gate: ``"unit"`` (default), ``"layer"`` or ``None`` (the paper): a learned gate on the read-out.
    :param gate_init: the gate's initial value (0: the memory starts closed), or ``"spread"``
        (default): unit i of H starts at i/(H − 1), from closed to open.
    :param learn_decay: learn λ (through a sigmoid), starting at ``decay``.
    :param learn_fast_lr: learn η (through a softplus), starting at ``fast_lr``.
    :param read_norm: layer-normalise the read-out (no gain or bias) before the gate (default).
    :param norm_input: layer-normalise the input term W h + C x + b too (no gain or bias), so the
        gate sets the read-out's size relative to the input's, whatever the input's scale.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        decay: float = 0.95,
        fast_lr: float = 0.5,
        inner_steps: int = 1,
        layer_norm: bool = True,
        num_layers: int = 1,
        dropout: float = 0.0,
        form: str = "attention",
        recurrent_init_scale: float = 0.05,
        backend: str = "auto",
        ln_eps: float = 1e-5,
        read_gate: str | None = "unit",
        gate_init: float | str = "spread",
        learn_decay: bool = False,
        learn_fast_lr: bool = False,
        read_norm: bool = True,
        norm_input: bool = False,
    ) -> None:
        _check_positive_int("hidden_size", hidden_size)
        super().__init__(input_size, hidden_size, num_layers)
        if not isinstance(decay, (int, float)) or not 0.0 <= float(decay) <= 1.0:
            raise ValueError(f"decay must lie in [0, 1], got {decay!r}")
        if not isinstance(fast_lr, (int, float)) or float(fast_lr) < 0.0:
            raise ValueError(f"fast_lr must be >= 0, got {fast_lr!r}")
        _check_positive_int("inner_steps", inner_steps)
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        _check_backend(backend)
        _check_dropout(dropout)
        if read_gate not in GATES:
            raise ValueError(f"read_gate must be one of {GATES}, got {read_gate!r}")
        if learn_decay and not 0.0 < float(decay) < 1.0:
            raise ValueError(f"a learned decay starts strictly inside (0, 1), got decay={decay!r}")
        if learn_fast_lr and float(fast_lr) <= 0.0:
            raise ValueError(f"a learned fast_lr starts above 0, got fast_lr={fast_lr!r}")
        self.decay = float(decay)
        self.fast_lr = float(fast_lr)
        self.read_gate = read_gate
        if gate_init != "spread" and not isinstance(gate_init, (int, float)):
            raise ValueError(f"gate_init must be a number or 'spread', got {gate_init!r}")
        self.gate_init = gate_init if gate_init == "spread" else float(gate_init)
        self.learn_decay = bool(learn_decay)
        self.learn_fast_lr = bool(learn_fast_lr)
        self.read_norm = bool(read_norm)
        self.norm_input = bool(norm_input)
        self.inner_steps = inner_steps
        self.layer_norm = bool(layer_norm)
        self.form = form
        self.backend = backend
        self.ln_eps = float(ln_eps)
        self.recurrent_init_scale = float(recurrent_init_scale)
        self.dropout = float(dropout)
        self.drop = nn.Dropout(self.dropout)
        self.W = nn.ParameterList()
        self.C = nn.ParameterList()
        self.bias = nn.ParameterList()
        self.ln_gain = nn.ParameterList()
        self.ln_bias = nn.ParameterList()
        # the options' parameters exist only when the option is on, so the paper's core has
        # exactly the paper's parameters
        self.gate = nn.ParameterList()
        self.decay_logit = nn.ParameterList()
        self.fast_lr_raw = nn.ParameterList()
        gate_width = {"unit": hidden_size, "layer": 1}.get(read_gate or "", 0)
        for layer in range(num_layers):
            fan_in = input_size if layer == 0 else hidden_size
            self.W.append(nn.Parameter(torch.empty(hidden_size, hidden_size)))
            self.C.append(nn.Parameter(torch.empty(hidden_size, fan_in)))
            self.bias.append(nn.Parameter(torch.empty(hidden_size)))
            self.ln_gain.append(nn.Parameter(torch.empty(hidden_size)))
            self.ln_bias.append(nn.Parameter(torch.empty(hidden_size)))
            if gate_width:
                self.gate.append(nn.Parameter(torch.empty(gate_width)))
            if self.learn_decay:
                self.decay_logit.append(nn.Parameter(torch.empty(())))
            if self.learn_fast_lr:
                self.fast_lr_raw.append(nn.Parameter(torch.empty(())))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W = scale·I; C uniform in ±1/√fan_in; zero biases; LN gain 1, LN bias 0; the gate at
        ``gate_init``; learned λ and η at ``decay`` and ``fast_lr``."""
        with torch.no_grad():
            for layer in range(self.num_layers):
                self.W[layer].copy_(torch.eye(self.hidden_size) * self.recurrent_init_scale)
                bound = 1.0 / math.sqrt(self.C[layer].shape[1])
                self.C[layer].uniform_(-bound, bound)
                self.bias[layer].zero_()
                self.ln_gain[layer].fill_(1.0)
                self.ln_bias[layer].zero_()
                if self.read_gate is not None:
                    if self.gate_init == "spread":  # unit i starts at i / (H − 1): closed to open
                        self.gate[layer].copy_(torch.linspace(0.0, 1.0, self.gate[layer].numel()))
                    else:
                        self.gate[layer].fill_(self.gate_init)
                if self.learn_decay:  # λ = sigmoid(logit)
                    self.decay_logit[layer].fill_(math.log(self.decay / (1.0 - self.decay)))
                if self.learn_fast_lr:  # η = softplus(raw)
                    self.fast_lr_raw[layer].fill_(math.log(math.expm1(self.fast_lr)))

    def settings(self) -> dict[str, object]:
        """Every constructor option but the sizes: ``FastWeightRNN(F, H, num_layers=L, **settings())``
        rebuilds this core, whatever the defaults of a later version."""
        names = (
            "decay",
            "fast_lr",
            "inner_steps",
            "layer_norm",
            "dropout",
            "form",
            "recurrent_init_scale",
            "backend",
            "ln_eps",
            "read_gate",
            "gate_init",
            "read_norm",
            "norm_input",
            "learn_decay",
            "learn_fast_lr",
        )
        return {name: getattr(self, name) for name in names}

    def decay_of(self, layer: int) -> float | torch.Tensor:
        """λ of a layer: the fixed float, or the learned value (a 0-d tensor)."""
        return torch.sigmoid(self.decay_logit[layer]) if self.learn_decay else self.decay

    def fast_lr_of(self, layer: int) -> float | torch.Tensor:
        """η of a layer: the fixed float, or the learned value (a 0-d tensor)."""
        return F.softplus(self.fast_lr_raw[layer]) if self.learn_fast_lr else self.fast_lr

    def gate_of(self, layer: int) -> torch.Tensor | None:
        """The read-out gate of a layer as H values (``None`` without a gate)."""
        if self.read_gate is None:
            return None
        return self.gate[layer].expand(self.hidden_size)

    def extra_repr(self) -> str:
        options = ", ".join(f"{name}={value!r}" for name, value in self.settings().items())
        return f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, {options}"

    # ----------------------------------------------------------------- state
    def state_shapes(self) -> list[tuple[int, ...]]:
        return [(self.num_layers, self.hidden_size), (self.num_layers, self.hidden_size, self.hidden_size)]

    # A is symmetric (a sum of decayed outer products), so only its upper triangle is packed.
    def _packed_width(self, index: int, shape: tuple[int, ...]) -> int:
        if index == 1:
            return self.num_layers * self.hidden_size * (self.hidden_size + 1) // 2
        return super()._packed_width(index, shape)

    def _triu_index(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat indices of the upper triangle in H·H, and for each of the H·H entries its
        position in the packed triangle (so unpacking is one gather). Cached per device."""
        cache = self.__dict__.setdefault("_triu_cache", {})
        if device not in cache:
            n = self.hidden_size
            rows, cols = torch.triu_indices(n, n)
            position = torch.empty(n, n, dtype=torch.long)
            position[rows, cols] = torch.arange(rows.numel())
            position[cols, rows] = torch.arange(rows.numel())
            cache[device] = ((rows * n + cols).to(device), position.flatten().to(device))
        return cache[device]

    def _pack_part(self, index: int, per_example: torch.Tensor) -> torch.Tensor:
        if index == 1:
            batch = per_example.shape[0]
            if _use_numba_copy(per_example):  # a compiled copy: torch's CPU gathers are slow here
                from fw_agents.cores._fw_kernels import sym_pack

                src = per_example.contiguous()
                out = src.new_empty(batch, self.num_layers, self.hidden_size * (self.hidden_size + 1) // 2)
                sym_pack(src.numpy(), out.numpy())
                return out.reshape(batch, -1)
            upper, _ = self._triu_index(per_example.device)
            flat = per_example.reshape(batch, self.num_layers, -1).index_select(2, upper)
            return flat.reshape(batch, -1)
        return super()._pack_part(index, per_example)

    def _unpack_part(self, index: int, chunk: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        if index == 1:
            batch, hidden = chunk.shape[0], self.hidden_size
            if _use_numba_copy(chunk):
                from fw_agents.cores._fw_kernels import sym_unpack

                out = chunk.new_empty(batch, self.num_layers, hidden, hidden)
                sym_unpack(chunk.reshape(batch, self.num_layers, -1).contiguous().numpy(), out.numpy())
                return out
            _, position = self._triu_index(chunk.device)
            full = chunk.reshape(batch, self.num_layers, -1).index_select(2, position)
            return full.reshape(batch, self.num_layers, hidden, hidden)
        return super()._unpack_part(index, chunk, shape)

    # --------------------------------------------------------------- forward
    def _forward(
        self, x: torch.Tensor, state: State, episode_starts: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        h_all, a_all = state
        keep = None if episode_starts is None else 1.0 - episode_starts
        new_h, new_a = [], []
        out = x
        for layer in range(self.num_layers):
            if layer > 0:
                out = self.drop(out)
            out, h_last, a_last = self._layer(layer, out, h_all[layer], a_all[layer], keep)
            new_h.append(h_last)
            new_a.append(a_last)
        return out, (torch.stack(new_h), torch.stack(new_a))

    def _layer(
        self, layer: int, x: torch.Tensor, h0: torch.Tensor, a0: torch.Tensor, keep: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # C x(t) + b for every step at once: one matrix product instead of T.
        cx = F.linear(x, self.C[layer], self.bias[layer])
        if self.form == "matrix":
            return self._layer_matrix(layer, cx, h0, a0, keep)
        if keep is None:
            keep = cx.new_ones(cx.shape[:2])
        lam, eta = self.decay_of(layer), self.fast_lr_of(layer)
        if use_numba(self.backend, cx):
            gate = self.gate_of(layer)
            hs = _FastWeightAttention.apply(
                cx, h0, a0, keep, self.W[layer], self.ln_gain[layer], self.ln_bias[layer],
                cx.new_ones(self.hidden_size) if gate is None else gate,
                torch.as_tensor(lam, dtype=cx.dtype), torch.as_tensor(eta, dtype=cx.dtype),
                self.inner_steps, self.layer_norm, self.read_norm, self.norm_input, self.ln_eps,
            )  # fmt: skip
        else:
            hs = self._layer_attention_torch(layer, cx, h0, a0, keep)
        return hs[1:], hs[-1], self._final_matrix(hs, a0, keep, lam, eta)

    def input_term(self, z: torch.Tensor) -> torch.Tensor:
        """The input term W h + C x + b as it joins the read-out: as is, or normalised (``norm_input``)."""
        return F.layer_norm(z, (self.hidden_size,), eps=self.ln_eps) if self.norm_input else z

    def gated_read(self, layer: int, read: torch.Tensor) -> torch.Tensor:
        """The read-out as it joins the input term: normalised (``read_norm``), then gated."""
        if self.read_norm:
            read = F.layer_norm(read, (self.hidden_size,), eps=self.ln_eps)
        gate = self.gate_of(layer)
        return read if gate is None else gate * read

    def _ln_relu(self, layer: int, u: torch.Tensor) -> torch.Tensor:
        if self.layer_norm:
            u = F.layer_norm(u, (self.hidden_size,), self.ln_gain[layer], self.ln_bias[layer], self.ln_eps)
        return torch.relu(u)

    def _layer_matrix(
        self, layer: int, cx: torch.Tensor, h: torch.Tensor, a: torch.Tensor, keep: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The equations as written: A is an explicit (B, H, H) tensor."""
        ys = []
        lam, eta = self.decay_of(layer), self.fast_lr_of(layer)
        for t in range(cx.shape[0]):
            if keep is not None:
                h = h * keep[t, :, None]
                a = a * keep[t, :, None, None]
            # A(t) = λ A(t−1) + η h(t) h(t)ᵀ — updated before it is read, so it contains h(t).
            a = lam * a + eta * h.unsqueeze(2) * h.unsqueeze(1)
            z = cx[t] + F.linear(h, self.W[layer])
            v = torch.relu(z)
            for _ in range(self.inner_steps):
                read = self.gated_read(layer, torch.bmm(a, v.unsqueeze(2)).squeeze(2))
                v = self._ln_relu(layer, self.input_term(z) + read)
            h = v
            ys.append(h)
        return torch.stack(ys), h, a

    def _layer_attention_torch(
        self,
        layer: int,
        cx: torch.Tensor,
        h0: torch.Tensor,
        a0: torch.Tensor,
        keep: torch.Tensor,
        record: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """Attention form in eager torch (any device); returns [h0, h(1), …, h(T)].

        ``record`` (a list) receives (input term z, gated read-out) of every step's last inner step.
        """
        seq_len = cx.shape[0]
        lam, eta = self.decay_of(layer), self.fast_lr_of(layer)
        hs = [h0]
        # valid[:, j]: buffer entry j (= h(j−1)) still belongs to the current episode.
        valid = cx.new_ones(cx.shape[1], 0)
        for t in range(seq_len):
            valid = torch.cat([valid, cx.new_ones(cx.shape[1], 1)], dim=1) * keep[t, :, None]
            alive = valid[:, :1]  # the carried A counts while no episode has started
            past = torch.stack(hs, dim=1)  # (B, t+1, H)
            decay = lam ** torch.arange(t, -1, -1, device=cx.device, dtype=cx.dtype)
            weights = eta * decay * valid  # (B, t+1)
            z = cx[t] + F.linear(hs[t] * keep[t, :, None], self.W[layer])
            v = torch.relu(z)
            for _ in range(self.inner_steps):
                scores = torch.bmm(past, v.unsqueeze(2)).squeeze(2) * weights
                read = torch.bmm(scores.unsqueeze(1), past).squeeze(1)
                read = self.gated_read(layer, read + alive * lam ** (t + 1) * torch.bmm(a0, v.unsqueeze(2)).squeeze(2))
                v = self._ln_relu(layer, self.input_term(z) + read)
            if record is not None:
                record.append((z, read))
            hs.append(v)
        return torch.stack(hs)

    @torch.no_grad()
    def read_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Layer 0's read at the last step t = T − 1 of ``x`` (T, F) from the empty memory:
        A(t)·h₀ = Σ_τ w_τ h(τ) over the hidden states h(0) … h(t−1) the memory holds, with
        w_τ = η λ^{t−1−τ} h(τ)ᵀ h₀ and h₀ = ReLU(W h(t−1) + C x(t) + b) the first inner-loop vector.
        Returns w, ``(1, T)``; the last entry is 0 (step t is written after its read)."""
        hiddens, state = [], None
        for t in range(x.shape[0] - 1):  # h(0) … h(t−1), as the policy carried them
            _, state = self(x[t : t + 1, None], state)
            hiddens.append(state[0][0, 0])
        h_prev = hiddens[-1] if hiddens else x.new_zeros(self.hidden_size)
        query = torch.relu(self.C[0] @ x[-1] + self.bias[0] + self.W[0] @ h_prev)
        weights = x.new_zeros(1, x.shape[0])
        if hiddens:
            past = torch.stack(hiddens)
            ages = torch.arange(past.shape[0] - 1, -1, -1, dtype=past.dtype, device=past.device)
            weights[0, :-1] = float(self.fast_lr_of(0)) * float(self.decay_of(0)) ** ages * (past @ query)
        return weights

    @torch.no_grad()
    def memory_diagnostics(
        self, x: torch.Tensor, state: State | None = None, episode_starts: torch.Tensor | None = None
    ) -> dict[str, float]:
        """How loud the memory is on a batch of sequences, per layer ``l``:

        * ``read_ratio/l``: ‖g ⊙ A(t)h_s‖ / ‖W h(t) + C x(t) + b‖, both centred over the units
          (the layer norm removes the mean), averaged over steps and examples — 0 means the
          memory is silent, ≫ 1 that it drowns the input;
        * ``gate_abs/l`` (mean |g|), ``decay/l`` (λ) and ``fast_lr/l`` (η).

        Runs the eager attention form (O(T²)); meant for monitoring, not for training.
        """
        if state is None:
            state = self.initial_state(x.shape[1], device=x.device, dtype=x.dtype)
        keep = x.new_ones(x.shape[:2]) if episode_starts is None else 1.0 - episode_starts.to(x)
        out, stats = x, {}
        for layer in range(self.num_layers):
            record: list[tuple[torch.Tensor, torch.Tensor]] = []
            cx = F.linear(out, self.C[layer], self.bias[layer])
            hs = self._layer_attention_torch(layer, cx, state[0][layer], state[1][layer], keep, record)
            out = hs[1:]
            z = torch.stack([r[0] for r in record])
            read = torch.stack([r[1] for r in record])
            ratio = _centred_norm(read) / _centred_norm(z).clamp_min(1e-8)
            stats[f"read_ratio/{layer}"] = float(ratio.mean())
            gate = self.gate_of(layer)
            stats[f"gate_abs/{layer}"] = 1.0 if gate is None else float(gate.abs().mean())
            stats[f"decay/{layer}"] = float(self.decay_of(layer))
            stats[f"fast_lr/{layer}"] = float(self.fast_lr_of(layer))
        return stats

    def _final_matrix(
        self,
        hs: torch.Tensor,
        a0: torch.Tensor,
        keep: torch.Tensor,
        lam: float | torch.Tensor,
        eta: float | torch.Tensor,
    ) -> torch.Tensor:
        """A at the last step: η Σ_j λ^{T−1−j} h(j−1)h(j−1)ᵀ over the current episode + λ^T A0."""
        seq_len = keep.shape[0]
        if seq_len == 1:  # the rollout case, one step: A = keep · (λ A0 + η h0 h0ᵀ)
            h0 = hs[0]
            if isinstance(lam, float) and isinstance(eta, float):
                a = torch.baddbmm(a0, h0.unsqueeze(2), h0.unsqueeze(1), beta=lam, alpha=eta)
            else:
                a = lam * a0 + eta * h0.unsqueeze(2) * h0.unsqueeze(1)
            return a * keep[0, :, None, None]
        # valid[j] = 1 if no episode starts in steps j..T−1
        valid = torch.flip(torch.cumprod(torch.flip(keep, (0,)), 0), (0,))
        decay = lam ** torch.arange(seq_len - 1, -1, -1, device=hs.device, dtype=hs.dtype)
        weights = eta * decay[:, None] * valid  # (T, B)
        past = hs[:seq_len].transpose(0, 1)  # (B, T, H)
        a = torch.bmm((past * weights.t()[:, :, None]).transpose(1, 2), past)
        return a + (lam**seq_len * valid[0])[:, None, None] * a0


# The paper's configuration: fixed λ and η, the read-out joins the layer norm ungated.
PAPER_SETTINGS = {
    "decay": 0.95,
    "fast_lr": 0.5,
    "inner_steps": 1,
    "recurrent_init_scale": 0.05,
    "read_gate": None,
    "gate_init": 0.0,
    "read_norm": False,
    "norm_input": False,
    "learn_decay": False,
    "learn_fast_lr": False,
}


@register_core("fw-paper")
class PaperFastWeightRNN(FastWeightRNN):
    """The paper's core as published: :class:`FastWeightRNN` with ``PAPER_SETTINGS`` (λ = 0.95,
    η = 0.5, both fixed, no read-out gate) unless an argument says otherwise."""

    def __init__(self, input_size: int, hidden_size: int, **kwargs: object) -> None:
        super().__init__(input_size, hidden_size, **{**PAPER_SETTINGS, **kwargs})  # type: ignore[arg-type]


class _FastWeightAttention(torch.autograd.Function):
    """One attention-form layer with the compiled forward and hand-derived backward."""

    @staticmethod
    def forward(
        ctx, cx, h0, a0, keep, w_rec, gain, shift, gate, lam_t, eta_t, inner_steps, use_ln, read_norm, norm_input, eps
    ):  # type: ignore[override]
        from fw_agents.cores import _fw_kernels as kernels

        lam, eta = float(lam_t), float(eta_t)

        seq_len, batch, hidden = cx.shape
        parallel = _parallel(seq_len, batch)
        cx, h0, keep = cx.detach().contiguous(), h0.detach(), keep.detach().contiguous()
        w_rec, gain, shift, gate = (
            w_rec.detach().contiguous(),
            gain.detach().contiguous(),
            shift.detach().contiguous(),
            gate.detach().contiguous(),
        )
        # The kernel skips the carried matrix of examples where it is zero, unless its gradient is needed.
        a0_grad = bool(a0.requires_grad)
        a0_c = a0.detach().contiguous()
        hs = cx.new_empty(seq_len + 1, batch, hidden)
        hs[0] = h0
        z = cx.new_empty(seq_len, batch, hidden)
        vin = cx.new_empty(seq_len, inner_steps, batch, hidden)
        xhat = cx.new_empty(seq_len, inner_steps, batch, hidden)
        rstd = cx.new_empty(seq_len, inner_steps, batch)
        read = cx.new_empty(seq_len, inner_steps, batch, hidden)
        read_rstd = cx.new_ones(seq_len, inner_steps, batch)
        zn = cx.new_empty(seq_len, batch, hidden)
        z_rstd = cx.new_ones(seq_len, batch)
        first = torch.empty(seq_len, batch, dtype=torch.int64)
        alive = torch.empty(seq_len, batch, dtype=torch.bool)
        (kernels.fw_forward_parallel if parallel else kernels.fw_forward_serial)(
            cx.numpy(), hs.numpy(), keep.numpy(), w_rec.numpy(), gain.numpy(), shift.numpy(), gate.numpy(),
            a0_c.numpy(), a0_grad, lam, eta, inner_steps, use_ln, read_norm, norm_input, eps,
            z.numpy(), vin.numpy(), xhat.numpy(), rstd.numpy(), read.numpy(), read_rstd.numpy(), zn.numpy(),
            z_rstd.numpy(), first.numpy(), alive.numpy(),
        )  # fmt: skip
        ctx.save_for_backward(
            hs, keep, w_rec, gain, gate, a0_c, z, vin, xhat, rstd, read, read_rstd, zn, z_rstd, first, alive
        )
        ctx.settings = (a0_grad, lam, eta, inner_steps, use_ln, read_norm, norm_input, parallel)
        return hs

    @staticmethod
    def backward(ctx, ghs):  # type: ignore[override]
        from fw_agents.cores import _fw_kernels as kernels

        hs, keep, w_rec, gain, gate, a0_c, z, vin, xhat, rstd, read, read_rstd, zn, z_rstd, first, alive = (
            ctx.saved_tensors
        )
        a0_grad, lam, eta, inner_steps, use_ln, read_norm, norm_input, parallel = ctx.settings
        seq_len, batch, hidden = z.shape
        gz = z.new_empty(seq_len, batch, hidden)
        dh0 = z.new_empty(batch, hidden)
        dgain = z.new_empty(batch, hidden)
        dshift = z.new_empty(batch, hidden)
        dgate = z.new_empty(batch, hidden)
        dlam = z.new_empty(batch)
        deta = z.new_empty(batch)
        da0 = z.new_empty(batch, hidden, hidden) if a0_grad else z.new_zeros(1, 1, 1)
        (kernels.fw_backward_parallel if parallel else kernels.fw_backward_serial)(
            ghs.contiguous().numpy(), hs.numpy(), keep.numpy(), w_rec.numpy(), gain.numpy(), gate.numpy(),
            a0_c.numpy(), a0_grad, lam, eta, inner_steps, use_ln, read_norm, norm_input,
            z.numpy(), vin.numpy(), xhat.numpy(), rstd.numpy(), read.numpy(), read_rstd.numpy(), zn.numpy(),
            z_rstd.numpy(), first.numpy(), alive.numpy(),
            gz.numpy(), dh0.numpy(), dgain.numpy(), dshift.numpy(), dgate.numpy(), dlam.numpy(), deta.numpy(),
            da0.numpy(),
        )  # fmt: skip
        h_prev = (hs[:-1] * keep[:, :, None]).reshape(-1, hidden)
        dw = gz.reshape(-1, hidden).t() @ h_prev
        grad_a0 = da0 if a0_grad else None
        return (gz, dh0, grad_a0, None, dw, dgain.sum(0), dshift.sum(0), dgate.sum(0), dlam.sum(), deta.sum()) + (
            None,
        ) * 5


def _centred_norm(u: torch.Tensor) -> torch.Tensor:
    """‖u − mean(u)‖ over the last dimension (the units)."""
    return (u - u.mean(-1, keepdim=True)).norm(dim=-1)


def _use_numba_copy(tensor: torch.Tensor) -> bool:
    """Whether a state copy may bypass autograd and run compiled (CPU, no gradient wanted)."""
    return tensor.device.type == "cpu" and not (torch.is_grad_enabled() and tensor.requires_grad)


# Below this many example-steps a call runs on the calling thread: waking a thread pool costs
# more than it saves (the rollout case, T = 1).
PARALLEL_MIN_WORK = 64


def _parallel(seq_len: int, batch: int) -> bool:
    """Use numba's thread pool only when torch may use several threads and the work is large.

    With ``torch.set_num_threads(1)`` (one process per seed or env worker) the serial kernels
    run and no pool thread is ever started, so parallel processes do not compete for cores.
    """
    threads = torch.get_num_threads()
    if threads < 2 or batch < 2 or seq_len * batch < PARALLEL_MIN_WORK:
        return False
    import numba

    wanted = max(1, min(threads, numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != wanted:
        numba.set_num_threads(wanted)
    return True
