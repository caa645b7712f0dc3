"""Compiled time loops (numba) for the fast-weight memory of :class:`FastWeightLSTM`.

One (example, head) pair per loop iteration; pairs never interact, so a whole sequence needs no
synchronisation. For one pair, with memory A (d_v × d_k) and the projections q, k, v and the
write logit w of step t:

    κ    = k_t / ‖k_t‖                                unit-length key
    β    = σ(w_t)                                     write strength in (0, 1)
    A'   = keep_t λ A(t−1)                            decay; cleared at an episode start
    A(t) = A' + β (v_t − δ A' κ) κᵀ                    δ = 1: the delta rule; δ = 0: add
    r    = A(t) q_t                                   the read-out
    out  = (r − mean r) / √(var r + ε)                normalised over the head's d_v values

The forward stores every A(t) (``hist``, index 0 = the carried matrix), the normalised read and
its 1/std for the backward. The readable version of the same arithmetic is
``FastWeightLSTM._memory_torch``; tests hold the two equal in outputs and gradients.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from fw_agents.cores._fw_kernels import _FAST, _normalise, _normalise_backward


@njit(cache=True, fastmath=_FAST, inline="always")
def _unit_key(kt, out, eps):
    """out = kt / max(‖kt‖, eps) (as torch's F.normalize); returns the divisor."""
    s = 0.0
    for j in range(kt.shape[0]):
        s += kt[j] * kt[j]
    norm = max(math.sqrt(s), eps)
    for j in range(kt.shape[0]):
        out[j] = kt[j] / norm
    return norm


@njit(cache=True, fastmath=_FAST, inline="always")
def _forward_pair(n, q, k, v, w, keep, lam, delta, eps, hist, out, rstd):
    heads = q.shape[2]
    b, h = n // heads, n % heads
    dv, dk = v.shape[3], k.shape[3]
    kappa = np.empty(dk, dtype=hist.dtype)
    u = np.empty(dv, dtype=hist.dtype)
    r = np.empty(dv, dtype=hist.dtype)
    for t in range(q.shape[0]):
        kp = keep[t, b] * lam[h]
        beta = 1.0 / (1.0 + math.exp(-w[t, b, h]))
        _unit_key(k[t, b, h], kappa, eps)
        prev, cur = hist[b, h, t], hist[b, h, t + 1]  # Aᵀ: (d_k, d_v)
        qt, vt = q[t, b, h], v[t, b, h]
        u[:] = 0.0
        for j in range(dk):
            c = kappa[j]
            row = prev[j]
            for i in range(dv):
                u[i] += c * row[i]
        for i in range(dv):  # u becomes the write e = β (v − δ λ A κ)
            u[i] = beta * (vt[i] - delta * kp * u[i])
        r[:] = 0.0
        for j in range(dk):
            c, qj = kappa[j], qt[j]
            row, new = prev[j], cur[j]
            for i in range(dv):
                a = kp * row[i] + c * u[i]
                new[i] = a
                r[i] += qj * a
        rstd[t, b, h] = _normalise(r, out[t, b, h], eps)


@njit(cache=True, parallel=True, fastmath=_FAST)
def memory_forward_parallel(q, k, v, w, keep, lam, delta, eps, hist, out, rstd):
    """``hist`` (B, heads, T + 1, d_k, d_v) holds the carried Aᵀ at index 0; fills the rest, ``out``, ``rstd``."""
    for n in prange(q.shape[1] * q.shape[2]):
        _forward_pair(n, q, k, v, w, keep, lam, delta, eps, hist, out, rstd)


@njit(cache=True, fastmath=_FAST)
def memory_forward_serial(q, k, v, w, keep, lam, delta, eps, hist, out, rstd):
    """The same loop on the calling thread."""
    for n in range(q.shape[1] * q.shape[2]):
        _forward_pair(n, q, k, v, w, keep, lam, delta, eps, hist, out, rstd)


@njit(cache=True, fastmath=_FAST, inline="always")
def _backward_pair(n, g_out, g_end, q, k, v, w, keep, lam, delta, eps, hist, out, rstd, dq, dkey, dval, dw, da0):
    heads = q.shape[2]
    b, h = n // heads, n % heads
    dv, dk = v.shape[3], k.shape[3]
    grad = np.empty((dk, dv), dtype=hist.dtype)  # dL/dAᵀ(t), carried backwards
    gk = np.empty(dv, dtype=hist.dtype)
    u = np.empty(dv, dtype=hist.dtype)
    dr = np.empty(dv, dtype=hist.dtype)
    kappa = np.empty(dk, dtype=hist.dtype)
    grad[:, :] = g_end[b, h]
    for t in range(q.shape[0] - 1, -1, -1):
        kp = keep[t, b] * lam[h]
        beta = 1.0 / (1.0 + math.exp(-w[t, b, h]))
        norm = _unit_key(k[t, b, h], kappa, eps)
        prev, cur = hist[b, h, t], hist[b, h, t + 1]
        qt, vt, go, ot = q[t, b, h], v[t, b, h], g_out[t, b, h], out[t, b, h]
        dqt, dvt, dkt = dq[t, b, h], dval[t, b, h], dkey[t, b, h]
        _normalise_backward(go, ot, rstd[t, b, h], dr)  # through the read's normalisation
        # r = A(t) q: dq = A(t)ᵀ dr and dA(t) += dr qᵀ; gk = dA(t) κ and u = A(t−1) κ for the write
        gk[:] = 0.0
        u[:] = 0.0
        for j in range(dk):
            qj, c = qt[j], kappa[j]
            row, g_row, p_row = cur[j], grad[j], prev[j]
            s = 0.0
            for i in range(dv):
                s += row[i] * dr[i]
                g = g_row[i] + qj * dr[i]
                g_row[i] = g
                gk[i] += c * g
                u[i] += c * p_row[i]
            dqt[j] = s
        # A(t) = A' + β e κᵀ with e = v − δ A' κ: dv = β gk, dβ = e · gk, du = −δ β gk
        db = 0.0
        for i in range(dv):
            e = vt[i] - delta * kp * u[i]
            db += e * gk[i]
            dvt[i] = beta * gk[i]
            u[i] = beta * e  # from here on u holds β e
            gk[i] = -delta * beta * gk[i]  # and gk holds du
        dw[t, b, h] = db * beta * (1.0 - beta)
        # dκ = dA(t)ᵀ β e + A'ᵀ du; dA' = dA(t) + du κᵀ, carried back through A' = keep λ A(t−1)
        c2 = 0.0
        for j in range(dk):
            c = kappa[j]
            g_row, p_row = grad[j], prev[j]
            s = 0.0
            for i in range(dv):
                g = g_row[i]
                s += g * u[i] + kp * p_row[i] * gk[i]
                g_row[i] = kp * (g + c * gk[i])
            dkt[j] = s
            c2 += c * s
        # κ = k / ‖k‖: dk = (dκ − κ (κ · dκ)) / ‖k‖ (while ‖k‖ > eps; else dκ / eps)
        if norm > eps:
            for j in range(dk):
                dkt[j] = (dkt[j] - kappa[j] * c2) / norm
        else:
            for j in range(dk):
                dkt[j] = dkt[j] / norm
    da0[b, h] = grad


@njit(cache=True, parallel=True, fastmath=_FAST)
def memory_backward_parallel(g_out, g_end, q, k, v, w, keep, lam, delta, eps, hist, out, rstd, dq, dkey, dval, dw,
                             da0):  # fmt: skip
    """Gradients of q, k, v, the write logit and the carried A, one (example, head) pair per iteration."""
    for n in prange(q.shape[1] * q.shape[2]):
        _backward_pair(n, g_out, g_end, q, k, v, w, keep, lam, delta, eps, hist, out, rstd, dq, dkey, dval, dw, da0)


@njit(cache=True, fastmath=_FAST)
def memory_backward_serial(g_out, g_end, q, k, v, w, keep, lam, delta, eps, hist, out, rstd, dq, dkey, dval, dw,
                           da0):  # fmt: skip
    """The same loop on the calling thread."""
    for n in range(q.shape[1] * q.shape[2]):
        _backward_pair(n, g_out, g_end, q, k, v, w, keep, lam, delta, eps, hist, out, rstd, dq, dkey, dval, dw, da0)
