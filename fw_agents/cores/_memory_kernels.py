"""Compiled time loops (numba) for the fast-weight memory of :class:`FastWeightLSTM`.

The batch is the innermost (contiguous) axis of every array, so each loop below runs over the
examples of one head and vectorises on any batch size; the heads never interact, and one head
(all examples) is one iteration of the parallel loop. For one example and head, with memory
A (d_v × d_k) and the projections q, k, v and the write logit w of step t:

    κ    = k_t / ‖k_t‖                                unit-length key
    β    = σ(w_t)                                     write strength in (0, 1)
    A'   = keep_t λ A(t−1)                            decay; cleared at an episode start
    A(t) = A' + β (v_t − δ A' κ) κᵀ                    δ = 1: the delta rule; δ = 0: add
    r    = A(t) q_t                                   the read-out
    out  = (r − mean r) / √(var r + ε)                normalised over the head's d_v values

Layouts: the projection ``p`` (T, heads·(2 d_k + d_v + 1), B) with q, k, v, w at the offsets of
:func:`fw_agents.cores.fw_memory._split`; Aᵀ as (heads, d_k, d_v, B); reads (T, heads, d_v, B).
The forward keeps A only every ``chunk`` steps (``ckpt``, index 0 = the carried matrix); the
backward recomputes one chunk's matrices at a time from its checkpoint, so the memory kept for
back-propagation grows with T / chunk, not T. The readable version of the same arithmetic is
``FastWeightLSTM._memory_torch``; tests hold the two equal in outputs and gradients.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from fw_agents.cores._fw_kernels import _FAST


@njit(cache=True, fastmath=_FAST, inline="always")
def _step_scalars(p, keep, lam_h, t, koff, woff, dk, eps, kappa, norm, beta, kp):
    """κ (d_k, B), ‖k‖ (B), β (B) and keep·λ (B) of step t for one head."""
    batch = p.shape[2]
    for b in range(batch):
        norm[b] = 0.0
    for j in range(dk):
        for b in range(batch):
            x = p[t, koff + j, b]
            norm[b] += x * x
    for b in range(batch):
        norm[b] = max(math.sqrt(norm[b]), eps)
        beta[b] = 1.0 / (1.0 + math.exp(-p[t, woff, b]))
        kp[b] = keep[t, b] * lam_h
    for j in range(dk):
        for b in range(batch):
            kappa[j, b] = p[t, koff + j, b] / norm[b]


@njit(cache=True, fastmath=_FAST, inline="always")
def _write(p, t, voff, delta, prev, kappa, beta, kp, u):
    """u = β (v − δ A' κ) (d_v, B), the write, from A(t−1) = ``prev``: A' κ = keep λ A(t−1) κ."""
    dk, dv, batch = prev.shape
    u[:, :] = 0.0
    for j in range(dk):
        for i in range(dv):
            for b in range(batch):
                u[i, b] += kappa[j, b] * prev[j, i, b]
    for i in range(dv):
        for b in range(batch):
            u[i, b] = beta[b] * (p[t, voff + i, b] - delta * kp[b] * u[i, b])


@njit(cache=True, fastmath=_FAST)
def _forward_head(h, p, keep, lam, delta, eps, sizes, a0, ckpt, chunk, out, rstd, a_last):
    heads, dk, dv = sizes
    seq_len, _, batch = p.shape
    qoff, koff, voff, woff = h * dk, heads * dk + h * dk, 2 * heads * dk + h * dv, 2 * heads * dk + heads * dv + h
    a = a0[h].copy()  # Aᵀ (d_k, d_v, B), updated in place
    kappa = np.empty((dk, batch), dtype=a.dtype)
    u = np.empty((dv, batch), dtype=a.dtype)
    r = np.empty((dv, batch), dtype=a.dtype)
    norm = np.empty(batch, dtype=a.dtype)
    beta = np.empty(batch, dtype=a.dtype)
    kp = np.empty(batch, dtype=a.dtype)
    mean = np.empty(batch, dtype=a.dtype)
    var = np.empty(batch, dtype=a.dtype)
    for t in range(seq_len):
        _step_scalars(p, keep, lam[h], t, koff, woff, dk, eps, kappa, norm, beta, kp)
        _write(p, t, voff, delta, a, kappa, beta, kp, u)
        r[:, :] = 0.0
        for j in range(dk):
            for i in range(dv):
                for b in range(batch):
                    x = kp[b] * a[j, i, b] + kappa[j, b] * u[i, b]
                    a[j, i, b] = x
                    r[i, b] += p[t, qoff + j, b] * x
        mean[:] = 0.0
        var[:] = 0.0
        for i in range(dv):
            for b in range(batch):
                mean[b] += r[i, b]
        for b in range(batch):
            mean[b] /= dv
        for i in range(dv):
            for b in range(batch):
                d = r[i, b] - mean[b]
                var[b] += d * d
        for b in range(batch):
            var[b] = 1.0 / math.sqrt(var[b] / dv + eps)
            rstd[t, h, b] = var[b]
        for i in range(dv):
            for b in range(batch):
                out[t, h, i, b] = (r[i, b] - mean[b]) * var[b]
        if (t + 1) % chunk == 0 and (t + 1) // chunk < ckpt.shape[0]:
            ckpt[(t + 1) // chunk, h] = a
    a_last[h] = a


@njit(cache=True, parallel=True, fastmath=_FAST)
def memory_forward_parallel(p, keep, lam, delta, eps, sizes, a0, ckpt, chunk, out, rstd, a_last):
    """Fills ``out``, ``rstd``, ``a_last`` and ``ckpt`` (from index 1; the caller sets index 0), one head
    per iteration."""
    for h in prange(sizes[0]):
        _forward_head(h, p, keep, lam, delta, eps, sizes, a0, ckpt, chunk, out, rstd, a_last)


@njit(cache=True, fastmath=_FAST)
def memory_forward_serial(p, keep, lam, delta, eps, sizes, a0, ckpt, chunk, out, rstd, a_last):
    """The same loop on the calling thread."""
    for h in range(sizes[0]):
        _forward_head(h, p, keep, lam, delta, eps, sizes, a0, ckpt, chunk, out, rstd, a_last)


@njit(cache=True, fastmath=_FAST)
def _backward_head(h, g_out, g_end, p, keep, lam, delta, eps, sizes, ckpt, chunk, out, rstd, dp, da0):
    heads, dk, dv = sizes
    seq_len, _, batch = p.shape
    qoff, koff, voff, woff = h * dk, heads * dk + h * dk, 2 * heads * dk + h * dv, 2 * heads * dk + heads * dv + h
    dtype = ckpt.dtype
    mats = np.empty((min(chunk, seq_len) + 1, dk, dv, batch), dtype=dtype)  # A(t) of one chunk, recomputed
    grad = g_end[h].copy()  # dL/dAᵀ(t), carried backwards
    kappa = np.empty((dk, batch), dtype=dtype)
    u = np.empty((dv, batch), dtype=dtype)
    gk = np.empty((dv, batch), dtype=dtype)
    dr = np.empty((dv, batch), dtype=dtype)
    norm = np.empty(batch, dtype=dtype)
    beta = np.empty(batch, dtype=dtype)
    kp = np.empty(batch, dtype=dtype)
    s = np.empty(batch, dtype=dtype)
    m1 = np.empty(batch, dtype=dtype)
    m2 = np.empty(batch, dtype=dtype)
    qk = np.empty(batch, dtype=dtype)
    for c in range((seq_len + chunk - 1) // chunk - 1, -1, -1):
        t0 = c * chunk
        t1 = min(seq_len, t0 + chunk)
        mats[0] = ckpt[c, h]
        for t in range(t0, t1):  # recompute A(t0 + 1 … t1) from the checkpoint
            _step_scalars(p, keep, lam[h], t, koff, woff, dk, eps, kappa, norm, beta, kp)
            prev, cur = mats[t - t0], mats[t - t0 + 1]
            _write(p, t, voff, delta, prev, kappa, beta, kp, u)
            for j in range(dk):
                for i in range(dv):
                    for b in range(batch):
                        cur[j, i, b] = kp[b] * prev[j, i, b] + kappa[j, b] * u[i, b]
        for t in range(t1 - 1, t0 - 1, -1):
            _step_scalars(p, keep, lam[h], t, koff, woff, dk, eps, kappa, norm, beta, kp)
            prev, cur = mats[t - t0], mats[t - t0 + 1]
            # through the read's normalisation: dr = (g − mean g − out · mean(g · out)) / std
            m1[:] = 0.0
            m2[:] = 0.0
            for i in range(dv):
                for b in range(batch):
                    g = g_out[t, h, i, b]
                    m1[b] += g
                    m2[b] += g * out[t, h, i, b]
            for i in range(dv):
                for b in range(batch):
                    dr[i, b] = (g_out[t, h, i, b] - m1[b] / dv - out[t, h, i, b] * (m2[b] / dv)) * rstd[t, h, b]
            # r = A(t) q: dq = A(t)ᵀ dr and dA(t) += dr qᵀ; gk = dA(t) κ and u = A(t−1) κ for the write
            # (short loops over few arrays: each one vectorises over the batch)
            gk[:, :] = 0.0
            u[:, :] = 0.0
            for j in range(dk):
                s[:] = 0.0
                for i in range(dv):
                    for b in range(batch):
                        s[b] += cur[j, i, b] * dr[i, b]
                for b in range(batch):
                    dp[t, qoff + j, b] = s[b]
                    qk[b] = p[t, qoff + j, b]
                for i in range(dv):
                    for b in range(batch):
                        grad[j, i, b] += qk[b] * dr[i, b]
                for i in range(dv):
                    for b in range(batch):
                        gk[i, b] += kappa[j, b] * grad[j, i, b]
                for i in range(dv):
                    for b in range(batch):
                        u[i, b] += kappa[j, b] * prev[j, i, b]
            # A(t) = A' + β e κᵀ with e = v − δ A' κ: dv = β gk, dβ = e · gk, du = −δ β gk
            s[:] = 0.0
            for i in range(dv):
                for b in range(batch):
                    e = p[t, voff + i, b] - delta * kp[b] * u[i, b]
                    s[b] += e * gk[i, b]
                    dp[t, voff + i, b] = beta[b] * gk[i, b]
                    u[i, b] = beta[b] * e  # from here on u holds β e
                    gk[i, b] = -delta * beta[b] * gk[i, b]  # and gk holds du
            for b in range(batch):
                dp[t, woff, b] = s[b] * beta[b] * (1.0 - beta[b])
            # dκ = dA(t)ᵀ β e + A'ᵀ du; dA' = dA(t) + du κᵀ, carried back through A' = keep λ A(t−1)
            m1[:] = 0.0  # κ · dκ
            m2[:] = 0.0
            for j in range(dk):
                s[:] = 0.0
                for i in range(dv):
                    for b in range(batch):
                        s[b] += grad[j, i, b] * u[i, b]
                for i in range(dv):
                    for b in range(batch):
                        m2[b] += prev[j, i, b] * gk[i, b]  # (m2 is free here: (A(t−1)ᵀ du)_j)
                for b in range(batch):
                    s[b] += kp[b] * m2[b]
                    m2[b] = 0.0
                    dp[t, koff + j, b] = s[b]
                    m1[b] += kappa[j, b] * s[b]
                for i in range(dv):
                    for b in range(batch):
                        grad[j, i, b] = kp[b] * (grad[j, i, b] + kappa[j, b] * gk[i, b])
            # κ = k / ‖k‖: dk = (dκ − κ (κ · dκ)) / ‖k‖ (while ‖k‖ > eps; else dκ / eps)
            for j in range(dk):
                for b in range(batch):
                    if norm[b] > eps:
                        dp[t, koff + j, b] = (dp[t, koff + j, b] - kappa[j, b] * m1[b]) / norm[b]
                    else:
                        dp[t, koff + j, b] = dp[t, koff + j, b] / norm[b]
    da0[h] = grad


@njit(cache=True, parallel=True, fastmath=_FAST)
def memory_backward_parallel(g_out, g_end, p, keep, lam, delta, eps, sizes, ckpt, chunk, out, rstd, dp, da0):
    """Gradients of the projection ``dp`` (same layout as ``p``) and of the carried Aᵀ, one head per iteration."""
    for h in prange(sizes[0]):
        _backward_head(h, g_out, g_end, p, keep, lam, delta, eps, sizes, ckpt, chunk, out, rstd, dp, da0)


@njit(cache=True, fastmath=_FAST)
def memory_backward_serial(g_out, g_end, p, keep, lam, delta, eps, sizes, ckpt, chunk, out, rstd, dp, da0):
    """The same loop on the calling thread."""
    for h in range(sizes[0]):
        _backward_head(h, g_out, g_end, p, keep, lam, delta, eps, sizes, ckpt, chunk, out, rstd, dp, da0)
