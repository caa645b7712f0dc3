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

q, k, v and w are read in place from the projection p (T, B, P) — per row, every head's q, then
every k, every v, every w — and the gradients written into dp of the same layout; the reads are
written as (T, B, heads, d_v): the layouts the core uses, so nothing is copied or transposed. The
kernels take p whole (C-contiguous) and slice each pair's vectors from a row, so every vector has
unit stride and the inner loops vectorise (views of p per part would have an unknown stride). The forward
keeps Aᵀ (d_k × d_v) only every ``chunk`` steps (``ckpt``, index 0 = the carried matrix, the
state's own layout); the backward recomputes one chunk's matrices at a time from its checkpoint
into a small buffer, so the memory kept for back-propagation grows with T / chunk, not T. A pair
whose reads have no gradient after some step (and no carried one) starts its backward there: in a
padded minibatch, a sequence's padding. The readable version of the same arithmetic is
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
    s = kt.dtype.type(0.0)
    for j in range(kt.shape[0]):
        s += kt[j] * kt[j]
    norm = max(math.sqrt(s), eps)
    for j in range(kt.shape[0]):
        out[j] = kt[j] / norm
    return norm


@njit(cache=True, fastmath=_FAST, inline="always")
def _combine_rows(weights, mat, out):
    """out = Σ_j weights[j] · mat[j] (a d_k × d_v matrix's rows weighted: A q or A κ for Aᵀ = mat)."""
    out[:] = 0.0
    for j in range(mat.shape[0]):
        c = weights[j]
        row = mat[j]
        for i in range(mat.shape[1]):
            out[i] += c * row[i]


@njit(cache=True, fastmath=_FAST, inline="always")
def _offsets(h, heads, dk, dv):
    """Where pair head h's q, k, v and w start in a row of p."""
    return h * dk, heads * dk + h * dk, 2 * heads * dk + h * dv, 2 * heads * dk + heads * dv + h


@njit(cache=True, fastmath=_FAST, inline="always")
def _write(kt, vt, wt, kp, delta, eps, prev, cur, kappa, u):
    """A(t) into ``cur`` from A(t−1) in ``prev`` (both Aᵀ, d_k × d_v; may be the same array) for one
    pair's key ``kt``, value ``vt``, write logit ``wt`` and keep·λ ``kp``; leaves κ in ``kappa`` and
    the write β (v − δ A' κ) in ``u``; returns β and ‖k‖."""
    dk, dv = prev.shape
    one = vt.dtype.type(1.0)
    beta = one / (one + math.exp(-wt))
    norm = _unit_key(kt, kappa, eps)
    _combine_rows(kappa, prev, u)
    for i in range(dv):
        u[i] = beta * (vt[i] - delta * kp * u[i])
    for j in range(dk):
        c = kappa[j]
        row, new = prev[j], cur[j]
        for i in range(dv):
            new[i] = kp * row[i] + c * u[i]
    return beta, norm


@njit(cache=True, fastmath=_FAST, inline="always")
def _forward_pair(n, p, keep, lam, delta, eps, a0, ckpt, chunk, out, rstd, a_last):
    heads, dv, dk = a0.shape[1], a0.shape[3], a0.shape[2]
    b, h = n // heads, n % heads
    q0, k0, v0, w0 = _offsets(h, heads, dk, dv)
    a = a0[b, h].copy()  # Aᵀ (d_k, d_v), updated in place
    kappa = np.empty(dk, dtype=a.dtype)
    u = np.empty(dv, dtype=a.dtype)
    r = np.empty(dv, dtype=a.dtype)
    for t in range(p.shape[0]):
        row = p[t, b]
        _write(row[k0 : k0 + dk], row[v0 : v0 + dv], row[w0], keep[t, b] * lam[h], delta, eps, a, a, kappa, u)
        _combine_rows(row[q0 : q0 + dk], a, r)
        rstd[t, b, h] = _normalise(r, out[t, b, h], eps)
        if (t + 1) % chunk == 0 and (t + 1) // chunk < ckpt.shape[0]:
            ckpt[(t + 1) // chunk, b, h] = a
    a_last[b, h] = a


@njit(cache=True, parallel=True, fastmath=_FAST)
def memory_forward_parallel(p, keep, lam, delta, eps, a0, ckpt, chunk, out, rstd, a_last):
    """Fills ``out``, ``rstd``, ``a_last`` and ``ckpt`` from index 1 (the caller sets index 0 to ``a0``)."""
    for n in prange(a0.shape[0] * a0.shape[1]):
        _forward_pair(n, p, keep, lam, delta, eps, a0, ckpt, chunk, out, rstd, a_last)


@njit(cache=True, fastmath=_FAST)
def memory_forward_serial(p, keep, lam, delta, eps, a0, ckpt, chunk, out, rstd, a_last):
    """The same loop on the calling thread."""
    for n in range(a0.shape[0] * a0.shape[1]):
        _forward_pair(n, p, keep, lam, delta, eps, a0, ckpt, chunk, out, rstd, a_last)


@njit(cache=True, fastmath=_FAST)
def memory_step(p, keep, lam, delta, eps, a0, out, a_last):
    """One step (T = 1) of the forward without checkpoints or 1/std: the rollout's call, every env
    step, for the actor and the critic. ``p`` (B, P) is the step's projection, ``keep`` (B,),
    ``out`` (B, heads, d_v). The arithmetic of :func:`_forward_pair` at t = 0, with the scratch
    vectors allocated once per call instead of once per (example, head) pair."""
    heads, dk, dv = a0.shape[1], a0.shape[2], a0.shape[3]
    kappa = np.empty(dk, dtype=a0.dtype)
    u = np.empty(dv, dtype=a0.dtype)
    r = np.empty(dv, dtype=a0.dtype)
    for b in range(p.shape[0]):
        row = p[b]
        for h in range(heads):
            q0, k0, v0, w0 = _offsets(h, heads, dk, dv)
            a = a_last[b, h]
            a[:] = a0[b, h]
            _write(row[k0 : k0 + dk], row[v0 : v0 + dv], row[w0], keep[b] * lam[h], delta, eps, a, a, kappa, u)
            _combine_rows(row[q0 : q0 + dk], a, r)
            _normalise(r, out[b, h], eps)


@njit(cache=True, fastmath=_FAST, inline="always")
def _backward_pair(n, g_out, g_end, p, keep, lam, delta, eps, ckpt, chunk, out, rstd, dp, da0):
    heads, dk, dv = ckpt.shape[2], ckpt.shape[3], ckpt.shape[4]
    seq_len = p.shape[0]
    b, h = n // heads, n % heads
    q0, k0, v0, w0 = _offsets(h, heads, dk, dv)
    dtype = ckpt.dtype
    one = dtype.type(1.0)
    mats = np.empty((min(chunk, seq_len) + 1, dk, dv), dtype=dtype)  # A(t) of one chunk, recomputed
    grad = g_end[b, h].copy()  # dL/dAᵀ(t), carried backwards
    gk = np.empty(dv, dtype=dtype)
    u = np.empty(dv, dtype=dtype)
    dr = np.empty(dv, dtype=dtype)
    kappa = np.empty(dk, dtype=dtype)
    # Past the last step whose read has a gradient (with none carried in) every gradient is 0: a
    # padded minibatch's sequences end in steps the loss masks out. Those steps are skipped.
    last = seq_len - 1
    if not np.any(grad):
        while last >= 0 and not np.any(g_out[last, b, h]):
            last -= 1
    for t in range(last + 1, seq_len):
        drow = dp[t, b]
        drow[q0 : q0 + dk] = 0.0
        drow[k0 : k0 + dk] = 0.0
        drow[v0 : v0 + dv] = 0.0
        drow[w0] = 0.0
    for c in range(last // chunk, -1, -1):
        t0 = c * chunk
        t1 = min(last + 1, t0 + chunk)
        mats[0] = ckpt[c, b, h]
        for t in range(t0, t1):  # A(t0 + 1 … t1) from the checkpoint
            row = p[t, b]
            _write(row[k0 : k0 + dk], row[v0 : v0 + dv], row[w0], keep[t, b] * lam[h], delta, eps, mats[t - t0],
                   mats[t - t0 + 1], kappa, u)  # fmt: skip
        for t in range(t1 - 1, t0 - 1, -1):
            row, drow = p[t, b], dp[t, b]
            kp = keep[t, b] * lam[h]
            beta = one / (one + math.exp(-row[w0]))
            norm = _unit_key(row[k0 : k0 + dk], kappa, eps)
            prev, cur = mats[t - t0], mats[t - t0 + 1]
            qt, vt, go, ot = row[q0 : q0 + dk], row[v0 : v0 + dv], g_out[t, b, h], out[t, b, h]
            dqt, dvt, dkt = drow[q0 : q0 + dk], drow[v0 : v0 + dv], drow[k0 : k0 + dk]
            _normalise_backward(go, ot, rstd[t, b, h], dr)  # through the read's normalisation
            # r = A(t) q: dq = A(t)ᵀ dr and dA(t) += dr qᵀ; gk = dA(t) κ and u = A(t−1) κ for the write
            gk[:] = 0.0
            u[:] = 0.0
            for j in range(dk):
                qj, cj = qt[j], kappa[j]
                a_row, g_row, p_row = cur[j], grad[j], prev[j]
                s = dtype.type(0.0)
                for i in range(dv):
                    s += a_row[i] * dr[i]
                    g = g_row[i] + qj * dr[i]
                    g_row[i] = g
                    gk[i] += cj * g
                    u[i] += cj * p_row[i]
                dqt[j] = s
            # A(t) = A' + β e κᵀ with e = v − δ A' κ: dv = β gk, dβ = e · gk, du = −δ β gk
            db = dtype.type(0.0)
            for i in range(dv):
                e = vt[i] - delta * kp * u[i]
                db += e * gk[i]
                dvt[i] = beta * gk[i]
                u[i] = beta * e  # from here on u holds β e
                gk[i] = -delta * beta * gk[i]  # and gk holds du
            drow[w0] = db * beta * (one - beta)
            # dκ = dA(t)ᵀ β e + A'ᵀ du; dA' = dA(t) + du κᵀ, carried back through A' = keep λ A(t−1)
            c2 = dtype.type(0.0)
            for j in range(dk):
                cj = kappa[j]
                g_row, p_row = grad[j], prev[j]
                s = dtype.type(0.0)
                for i in range(dv):
                    g = g_row[i]
                    s += g * u[i] + kp * p_row[i] * gk[i]
                    g_row[i] = kp * (g + cj * gk[i])
                dkt[j] = s
                c2 += cj * s
            # κ = k / ‖k‖: dk = (dκ − κ (κ · dκ)) / ‖k‖ (while ‖k‖ > eps; else dκ / eps)
            if norm > eps:
                for j in range(dk):
                    dkt[j] = (dkt[j] - kappa[j] * c2) / norm
            else:
                for j in range(dk):
                    dkt[j] = dkt[j] / norm
    da0[b, h] = grad


@njit(cache=True, parallel=True, fastmath=_FAST)
def memory_backward_parallel(g_out, g_end, p, keep, lam, delta, eps, ckpt, chunk, out, rstd, dp, da0):
    """Gradients of p (q, k, v and the write logit) and of the carried A, one (example, head) pair per iteration."""
    for n in prange(ckpt.shape[1] * ckpt.shape[2]):
        _backward_pair(n, g_out, g_end, p, keep, lam, delta, eps, ckpt, chunk, out, rstd, dp, da0)


@njit(cache=True, fastmath=_FAST)
def memory_backward_serial(g_out, g_end, p, keep, lam, delta, eps, ckpt, chunk, out, rstd, dp, da0):
    """The same loop on the calling thread."""
    for n in range(ckpt.shape[1] * ckpt.shape[2]):
        _backward_pair(n, g_out, g_end, p, keep, lam, delta, eps, ckpt, chunk, out, rstd, dp, da0)
