"""Compiled time loops (numba) for one fast-weight layer in attention form.

The loops run each example of the batch in its own thread (``prange``): examples never
interact inside a layer, so a whole sequence needs no synchronisation between steps.
This removes the per-step overhead of Python and autograd that dominates a fast-weight
RNN at the sizes RL uses (see perf-notes). The readable version of the same arithmetic is
``FastWeightRNN._layer_attention_torch``; tests hold the two equal.

Notation (one example; buffer entry j holds h(j-1), entry 0 is the carried hidden state):
    z_t   = C x_t + b + W (keep_t * hs[t])
    v_0   = relu(z_t)
    a_s   = sum_{j=first_t..t} eta * lam^(t-j) * hs[j] (hs[j] . v_s)  +  alive_t lam^(t+1) A0 v_s
    v_s+1 = relu(LN(M(z_t) + g * N(a_s))),  s = 0..S-1;   hs[t+1] = v_S
with g the read-out gate (per unit; all ones for the paper's core), N the identity or, with
``read_norm``, a layer norm without gain or bias, and M likewise with ``norm_input``. The backward also returns
the gradients of g, lam and eta, so the gate, the decay and the fast learning rate can be learned.
where first_t is the first buffer entry after the latest episode start and alive_t says
whether no episode started in 0..t (so the carried matrix A0 still counts).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# Reassociation lets LLVM vectorise the dot products; no 'nnan'/'ninf', so NaNs still propagate.
_FAST = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, fastmath=_FAST)
def _powers(lam, n, dtype_ref):
    powers = np.empty(n, dtype=dtype_ref.dtype)
    powers[0] = 1.0
    for k in range(1, n):
        powers[k] = powers[k - 1] * lam
    return powers


@njit(cache=True, fastmath=_FAST, inline="always")
def _normalise(x, out, eps):
    """out = (x − mean x) / sqrt(var x + eps) over the units (``out`` may be ``x``); returns the 1/sqrt.
    The sums and scalars stay in the arrays' precision (a float64 literal would make every float32
    operation a float64 one, with conversions in between)."""
    n = x.shape[0]
    inv_n = x.dtype.type(1.0 / n)
    mean = x.dtype.type(0.0)
    for i in range(n):
        mean += x[i]
    mean *= inv_n
    var = x.dtype.type(0.0)
    for i in range(n):
        d = x[i] - mean
        var += d * d
    var *= inv_n
    r = x.dtype.type(1.0) / math.sqrt(var + eps)
    for i in range(n):
        out[i] = (x[i] - mean) * r
    return r


@njit(cache=True, fastmath=_FAST, inline="always")
def _normalise_backward(g, xhat, r, out):
    """The gradient through :func:`_normalise`: out = (g − mean g − xhat · mean(g·xhat)) · r (``out`` may be ``g``)."""
    n = g.shape[0]
    inv_n = g.dtype.type(1.0 / n)
    m1 = g.dtype.type(0.0)
    m2 = g.dtype.type(0.0)
    for i in range(n):
        m1 += g[i]
        m2 += g[i] * xhat[i]
    m1 *= inv_n
    m2 *= inv_n
    for i in range(n):
        out[i] = (g[i] - m1 - xhat[i] * m2) * r


@njit(cache=True, fastmath=_FAST)
def _forward_example(b, cx, hs, keep, w_rec, gain, shift, gate, a0, a0_grad, eta, inner_steps, use_ln,
                     read_norm, norm_input, eps, z_out, vin_out, xhat_out, rstd_out, read_out, read_rstd_out,
                     zn_out, z_rstd_out, first_out, alive_out, powers):  # fmt: skip
    seq_len, _batch, hidden = cx.shape
    first = 0
    # the carried matrix counts until the example's first episode start; skip it when zero
    alive = a0_grad
    if not alive:
        for i in range(hidden):
            for k in range(hidden):
                if a0[b, i, k] != 0.0:
                    alive = True
                    break
            if alive:
                break
    hp = np.empty(hidden, dtype=cx.dtype)
    v = np.empty(hidden, dtype=cx.dtype)
    acc = np.empty(hidden, dtype=cx.dtype)
    for t in range(seq_len):
        k_t = keep[t, b]
        if k_t == 0.0:
            first = t + 1
            alive = False
        first_out[t, b] = first
        alive_out[t, b] = alive
        for i in range(hidden):
            hp[i] = hs[t, b, i] * k_t
        # z = C x + b + W h(t)
        for i in range(hidden):
            s = cx[t, b, i]
            for k in range(hidden):
                s += w_rec[i, k] * hp[k]
            z_out[t, b, i] = s
            v[i] = s if s > 0.0 else 0.0
        # the input term as the layer norm receives it: z itself, or z normalised (norm_input)
        if norm_input:
            z_rstd_out[t, b] = _normalise(z_out[t, b], zn_out[t, b], eps)
        else:
            for i in range(hidden):
                zn_out[t, b, i] = z_out[t, b, i]
        for st in range(inner_steps):
            for i in range(hidden):
                vin_out[t, st, b, i] = v[i]
                acc[i] = 0.0
            # A(t) v as decayed attention over the stored hidden states
            for j in range(first, t + 1):
                dot = 0.0
                for i in range(hidden):
                    dot += hs[j, b, i] * v[i]
                coef = eta * powers[t - j] * dot
                for i in range(hidden):
                    acc[i] += coef * hs[j, b, i]
            if alive:
                scale = powers[t + 1]
                for i in range(hidden):
                    s = 0.0
                    for k in range(hidden):
                        s += a0[b, i, k] * v[k]
                    acc[i] += scale * s
            # optionally normalised (a layer norm of its own, no gain), the gated read-out
            # joins the input term inside the layer norm
            if read_norm:
                read_rstd_out[t, st, b] = _normalise(acc, acc, eps)
            for i in range(hidden):
                read_out[t, st, b, i] = acc[i]
                acc[i] = zn_out[t, b, i] + gate[i] * acc[i]
            if use_ln:
                rstd_out[t, st, b] = _normalise(acc, xhat_out[t, st, b], eps)
                for i in range(hidden):
                    n = gain[i] * xhat_out[t, st, b, i] + shift[i]
                    v[i] = n if n > 0.0 else 0.0
            else:
                rstd_out[t, st, b] = 1.0
                for i in range(hidden):
                    xhat_out[t, st, b, i] = acc[i]
                    v[i] = acc[i] if acc[i] > 0.0 else 0.0
        for i in range(hidden):
            hs[t + 1, b, i] = v[i]


@njit(cache=True, parallel=True, fastmath=_FAST)
def fw_forward_parallel(cx, hs, keep, w_rec, gain, shift, gate, a0, a0_grad, lam, eta, inner_steps, use_ln,
                        read_norm, norm_input, eps, z_out, vin_out, xhat_out, rstd_out, read_out, read_rstd_out,
                        zn_out, z_rstd_out, first_out, alive_out):  # fmt: skip
    """One thread per example (numba's thread pool)."""
    powers = _powers(lam, cx.shape[0] + 2, cx)
    for b in prange(cx.shape[1]):
        _forward_example(b, cx, hs, keep, w_rec, gain, shift, gate, a0, a0_grad, eta, inner_steps, use_ln,
                         read_norm, norm_input, eps, z_out, vin_out, xhat_out, rstd_out, read_out, read_rstd_out,
                         zn_out, z_rstd_out, first_out, alive_out, powers)  # fmt: skip


@njit(cache=True, fastmath=_FAST)
def fw_forward_serial(cx, hs, keep, w_rec, gain, shift, gate, a0, a0_grad, lam, eta, inner_steps, use_ln,
                      read_norm, norm_input, eps, z_out, vin_out, xhat_out, rstd_out, read_out, read_rstd_out,
                      zn_out, z_rstd_out, first_out, alive_out):  # fmt: skip
    """The same loop on the calling thread (no pool: nothing spins when torch uses one thread)."""
    powers = _powers(lam, cx.shape[0] + 2, cx)
    for b in range(cx.shape[1]):
        _forward_example(b, cx, hs, keep, w_rec, gain, shift, gate, a0, a0_grad, eta, inner_steps, use_ln,
                         read_norm, norm_input, eps, z_out, vin_out, xhat_out, rstd_out, read_out, read_rstd_out,
                         zn_out, z_rstd_out, first_out, alive_out, powers)  # fmt: skip


@njit(cache=True, fastmath=_FAST)
def _backward_example(b, ghs, hs, keep, w_rec, gain, gate, a0, a0_grad, eta, inner_steps, use_ln,
                      read_norm, norm_input, z, vin, xhat, rstd, read, read_rstd, zn, z_rstd, first_arr, alive_arr,
                      gz_out, dh0_out, dgain_out, dshift_out, dgate_out, dlam_out, deta_out, da0_out,
                      powers):  # fmt: skip
    seq_len, _batch, hidden = z.shape
    dhs = np.empty((seq_len + 1, hidden), dtype=z.dtype)
    for j in range(seq_len + 1):
        for i in range(hidden):
            dhs[j, i] = ghs[j, b, i]
    gv = np.empty(hidden, dtype=z.dtype)
    gv_new = np.empty(hidden, dtype=z.dtype)
    gz = np.empty(hidden, dtype=z.dtype)
    gu = np.empty(hidden, dtype=z.dtype)
    gr = np.empty(hidden, dtype=z.dtype)
    gzn = np.empty(hidden, dtype=z.dtype)
    dlam = 0.0
    deta = 0.0
    for i in range(hidden):
        dgain_out[b, i] = 0.0
        dshift_out[b, i] = 0.0
        dgate_out[b, i] = 0.0
    if a0_grad:
        for i in range(hidden):
            for k in range(hidden):
                da0_out[b, i, k] = 0.0
    for t in range(seq_len - 1, -1, -1):
        first = first_arr[t, b]
        alive = alive_arr[t, b]
        for i in range(hidden):
            gv[i] = dhs[t + 1, i]
            gz[i] = 0.0
            gzn[i] = 0.0
        for st in range(inner_steps - 1, -1, -1):
            # relu'(n_s): read off the output of this inner step
            if st == inner_steps - 1:
                for i in range(hidden):
                    if hs[t + 1, b, i] <= 0.0:
                        gv[i] = 0.0
            else:
                for i in range(hidden):
                    if vin[t, st + 1, b, i] <= 0.0:
                        gv[i] = 0.0
            if use_ln:
                for i in range(hidden):
                    dgain_out[b, i] += gv[i] * xhat[t, st, b, i]
                    dshift_out[b, i] += gv[i]
                    gu[i] = gv[i] * gain[i]
                _normalise_backward(gu, xhat[t, st, b], rstd[t, st, b], gu)
            else:
                for i in range(hidden):
                    gu[i] = gv[i]
            # u = z + g * a: gu reaches z as it is, the read-out a as gr = g * gu
            for i in range(hidden):
                gzn[i] += gu[i]
                dgate_out[b, i] += gu[i] * read[t, st, b, i]
                gr[i] = gate[i] * gu[i]
                gv_new[i] = 0.0
            if read_norm:  # back through the read-out's own layer norm
                _normalise_backward(gr, read[t, st, b], read_rstd[t, st, b], gr)
            for j in range(first, t + 1):
                hv = 0.0
                hg = 0.0
                for i in range(hidden):
                    hv += hs[j, b, i] * vin[t, st, b, i]
                    hg += hs[j, b, i] * gr[i]
                w = eta * powers[t - j]
                deta += powers[t - j] * hg * hv
                if t > j:
                    dlam += eta * (t - j) * powers[t - j - 1] * hg * hv
                for i in range(hidden):
                    gv_new[i] += w * hg * hs[j, b, i]
                    dhs[j, i] += w * (hv * gr[i] + hg * vin[t, st, b, i])
            if alive:
                scale = powers[t + 1]
                ga = 0.0
                for i in range(hidden):
                    gi = scale * gr[i]
                    s = 0.0
                    for k in range(hidden):
                        gv_new[k] += a0[b, i, k] * gi
                        s += a0[b, i, k] * vin[t, st, b, k]
                    ga += gr[i] * s
                dlam += (t + 1) * powers[t] * ga
                if a0_grad:
                    for i in range(hidden):
                        gi = scale * gr[i]
                        for k in range(hidden):
                            da0_out[b, i, k] += gi * vin[t, st, b, k]
            for i in range(hidden):
                gv[i] = gv_new[i]
        # the input term: gzn reaches z as it is, or back through its layer norm
        if norm_input:
            _normalise_backward(gzn, zn[t, b], z_rstd[t, b], gzn)
        for i in range(hidden):
            gz[i] += gzn[i]
        # v_0 = relu(z)
        for i in range(hidden):
            if z[t, b, i] > 0.0:
                gz[i] += gv[i]
            gz_out[t, b, i] = gz[i]
        k_t = keep[t, b]
        if k_t != 0.0:
            for i in range(hidden):
                gi = gz[i] * k_t
                for k in range(hidden):
                    dhs[t, k] += w_rec[i, k] * gi
    for i in range(hidden):
        dh0_out[b, i] = dhs[0, i]
    dlam_out[b] = dlam
    deta_out[b] = deta


@njit(cache=True, parallel=True, fastmath=_FAST)
def fw_backward_parallel(ghs, hs, keep, w_rec, gain, gate, a0, a0_grad, lam, eta, inner_steps, use_ln,
                         read_norm, norm_input, z, vin, xhat, rstd, read, read_rstd, zn, z_rstd, first_arr, alive_arr,
                         gz_out, dh0_out, dgain_out, dshift_out, dgate_out, dlam_out, deta_out, da0_out):  # fmt: skip
    powers = _powers(lam, z.shape[0] + 2, z)
    for b in prange(z.shape[1]):
        _backward_example(b, ghs, hs, keep, w_rec, gain, gate, a0, a0_grad, eta, inner_steps, use_ln,
                          read_norm, norm_input, z, vin, xhat, rstd, read, read_rstd, zn, z_rstd, first_arr, alive_arr,
                          gz_out, dh0_out, dgain_out, dshift_out, dgate_out, dlam_out, deta_out, da0_out,
                          powers)  # fmt: skip


@njit(cache=True, fastmath=_FAST)
def fw_backward_serial(ghs, hs, keep, w_rec, gain, gate, a0, a0_grad, lam, eta, inner_steps, use_ln,
                       read_norm, norm_input, z, vin, xhat, rstd, read, read_rstd, zn, z_rstd, first_arr, alive_arr,
                       gz_out, dh0_out, dgain_out, dshift_out, dgate_out, dlam_out, deta_out, da0_out):  # fmt: skip
    powers = _powers(lam, z.shape[0] + 2, z)
    for b in range(z.shape[1]):
        _backward_example(b, ghs, hs, keep, w_rec, gain, gate, a0, a0_grad, eta, inner_steps, use_ln,
                          read_norm, norm_input, z, vin, xhat, rstd, read, read_rstd, zn, z_rstd, first_arr, alive_arr,
                          gz_out, dh0_out, dgain_out, dshift_out, dgate_out, dlam_out, deta_out, da0_out,
                          powers)  # fmt: skip


@njit(cache=True)
def sym_pack(full, out):
    """Upper triangles of (B, L, H, H) symmetric matrices, row by row, into (B, L, H(H+1)/2)."""
    batch, layers, hidden, _ = full.shape
    for b in range(batch):
        for layer in range(layers):
            p = 0
            for i in range(hidden):
                for k in range(i, hidden):
                    out[b, layer, p] = full[b, layer, i, k]
                    p += 1


@njit(cache=True)
def sym_unpack(tri, out):
    """Inverse of :func:`sym_pack`: mirror each packed upper triangle into a full matrix."""
    batch, layers, hidden, _ = out.shape
    for b in range(batch):
        for layer in range(layers):
            p = 0
            for i in range(hidden):
                for k in range(i, hidden):
                    v = tri[b, layer, p]
                    out[b, layer, i, k] = v
                    out[b, layer, k, i] = v
                    p += 1
