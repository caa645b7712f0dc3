"""Compiled cell (numba) for the associative LSTM (:class:`AssociativeLSTMCore`), forward and backward.

One call does one time step for the whole batch, after the step's projection
``pre = W_x x(t) + b + W_h h(t−1)`` (a matrix product torch does): every operation of the cell is
element-wise in the complex unit j, so one loop iteration handles one example and the inner loop
runs over units and copies. For unit j of one example (σ the logistic, bound(z) = z / max(1, |z|),
⊛ complex multiplication, copies s = 1 … n):

    f, i, o = σ(pre_f), σ(pre_i), σ(pre_o)
    w       = i · bound(pre_u)                              the value to write
    c_s'    = f c_s + bound(pre_rin[P_s j]) ⊛ w             each copy's cell, its key permuted by P_s
    h       = o · bound( (1/n) Σ_s bound(pre_rout[P_s j]) ⊛ c_s' )   real part, then imaginary part

``pre`` rows, H/2 each: f, i, o, u re, u im, r_in re, r_in im, r_out re, r_out im (the core's
projection). ``perms`` (n, H/2) holds the copies' fixed permutations P_s, so the keys are projected
once and each copy reads them through its permutation. The cell c is (B, n, 2, H/2): copy, re/im,
unit. The backward recomputes the step from ``pre`` and the carried cell. The readable version of
the same arithmetic is the core's torch forward; tests hold the two equal in outputs and gradients.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from fw_agents.cores._fw_kernels import _FAST


@njit(cache=True, fastmath=_FAST, inline="always")
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, fastmath=_FAST, inline="always")
def _bound(re, im):
    """z / max(1, |z|)."""
    norm = math.sqrt(re * re + im * im)
    if norm > 1.0:
        return re / norm, im / norm
    return re, im


@njit(cache=True, fastmath=_FAST, inline="always")
def _bound_backward(re, im, g_re, g_im):
    """The gradient at z of bound(z), given the gradient ``g`` at its output."""
    norm = math.sqrt(re * re + im * im)
    if norm > 1.0:
        out_re, out_im = re / norm, im / norm
        dot = out_re * g_re + out_im * g_im
        return (g_re - out_re * dot) / norm, (g_im - out_im * dot) / norm
    return g_re, g_im


@njit(cache=True, fastmath=_FAST, inline="always")
def _unit(b, j, pre, perms, c, saved):
    """Unit j of example b forward: fills ``saved`` per copy with c' (re, im), the bounded r_in (re,
    im) and r_out (re, im); returns the gates, the bounded value u, the mean read before its bound."""
    copies, half = c.shape[1], c.shape[3]
    a_at, r_at = 5 * half, 7 * half
    f = _sigmoid(pre[b, j])
    i = _sigmoid(pre[b, half + j])
    o = _sigmoid(pre[b, 2 * half + j])
    u_re, u_im = _bound(pre[b, 3 * half + j], pre[b, 4 * half + j])
    w_re, w_im = i * u_re, i * u_im
    acc_re, acc_im = 0.0, 0.0
    for s in range(copies):
        p = perms[s, j]
        a_re, a_im = _bound(pre[b, a_at + p], pre[b, a_at + half + p])
        r_re, r_im = _bound(pre[b, r_at + p], pre[b, r_at + half + p])
        cr = f * c[b, s, 0, j] + a_re * w_re - a_im * w_im
        ci = f * c[b, s, 1, j] + a_re * w_im + a_im * w_re
        acc_re += r_re * cr - r_im * ci
        acc_im += r_re * ci + r_im * cr
        saved[0, s], saved[1, s], saved[2, s] = cr, ci, a_re
        saved[3, s], saved[4, s], saved[5, s] = a_im, r_re, r_im
    return f, i, o, u_re, u_im, acc_re / copies, acc_im / copies


@njit(cache=True, fastmath=_FAST, inline="always")
def _forward_example(b, pre, perms, c, h, c_new):
    copies, half = c.shape[1], c.shape[3]
    saved = np.empty((6, copies), dtype=c.dtype)
    for j in range(half):
        _, _, o, _, _, acc_re, acc_im = _unit(b, j, pre, perms, c, saved)
        for s in range(copies):
            c_new[b, s, 0, j] = saved[0, s]
            c_new[b, s, 1, j] = saved[1, s]
        m_re, m_im = _bound(acc_re, acc_im)
        h[b, j] = o * m_re
        h[b, half + j] = o * m_im


@njit(cache=True, parallel=True, fastmath=_FAST)
def cell_forward_parallel(pre, perms, c, h, c_new):
    """One step: ``h`` (B, H) and ``c_new`` from ``pre`` (B, 9·H/2) and the carried cell ``c``; one example a thread."""
    for b in prange(pre.shape[0]):
        _forward_example(b, pre, perms, c, h, c_new)


@njit(cache=True, fastmath=_FAST)
def cell_forward_serial(pre, perms, c, h, c_new):
    """The same step on the calling thread."""
    for b in range(pre.shape[0]):
        _forward_example(b, pre, perms, c, h, c_new)


@njit(cache=True, fastmath=_FAST, inline="always")
def _backward_example(b, pre, perms, c, g_h, g_c, g_pre):
    copies, half = c.shape[1], c.shape[3]
    a_at, r_at = 5 * half, 7 * half
    for n in range(a_at, 9 * half):  # the keys' gradients add up over the copies
        g_pre[b, n] = 0.0
    inv = 1.0 / copies
    saved = np.empty((6, copies), dtype=c.dtype)
    for j in range(half):  # the step forward again (from pre and the carried cell), then back
        f, i, o, u_re, u_im, acc_re, acc_im = _unit(b, j, pre, perms, c, saved)
        w_re, w_im = i * u_re, i * u_im
        m_re, m_im = _bound(acc_re, acc_im)
        gh_re, gh_im = g_h[b, j], g_h[b, half + j]
        g_pre[b, 2 * half + j] = (gh_re * m_re + gh_im * m_im) * o * (1.0 - o)
        g_acc_re, g_acc_im = _bound_backward(acc_re, acc_im, gh_re * o, gh_im * o)
        g_acc_re *= inv
        g_acc_im *= inv
        g_f, g_w_re, g_w_im = 0.0, 0.0, 0.0
        for s in range(copies):
            cr, ci, a_re = saved[0, s], saved[1, s], saved[2, s]
            a_im, r_re, r_im = saved[3, s], saved[4, s], saved[5, s]
            g_r_re = g_acc_re * cr + g_acc_im * ci
            g_r_im = g_acc_im * cr - g_acc_re * ci
            g_cr = g_c[b, s, 0, j] + g_acc_re * r_re + g_acc_im * r_im
            g_ci = g_c[b, s, 1, j] + g_acc_im * r_re - g_acc_re * r_im
            g_f += g_cr * c[b, s, 0, j] + g_ci * c[b, s, 1, j]
            g_c[b, s, 0, j] = f * g_cr
            g_c[b, s, 1, j] = f * g_ci
            g_a_re = g_cr * w_re + g_ci * w_im
            g_a_im = g_ci * w_re - g_cr * w_im
            g_w_re += g_cr * a_re + g_ci * a_im
            g_w_im += g_ci * a_re - g_cr * a_im
            p = perms[s, j]
            g_re, g_im = _bound_backward(pre[b, a_at + p], pre[b, a_at + half + p], g_a_re, g_a_im)
            g_pre[b, a_at + p] += g_re
            g_pre[b, a_at + half + p] += g_im
            g_re, g_im = _bound_backward(pre[b, r_at + p], pre[b, r_at + half + p], g_r_re, g_r_im)
            g_pre[b, r_at + p] += g_re
            g_pre[b, r_at + half + p] += g_im
        pu_re, pu_im = pre[b, 3 * half + j], pre[b, 4 * half + j]
        g_pre[b, 3 * half + j], g_pre[b, 4 * half + j] = _bound_backward(pu_re, pu_im, g_w_re * i, g_w_im * i)
        g_pre[b, j] = g_f * f * (1.0 - f)
        g_pre[b, half + j] = (g_w_re * u_re + g_w_im * u_im) * i * (1.0 - i)


@njit(cache=True, parallel=True, fastmath=_FAST)
def cell_backward_parallel(pre, perms, c, g_h, g_c, g_pre):
    """One step back: fills ``g_pre`` and turns ``g_c`` (the gradient at the new cell) into the
    gradient at the carried one, in place; one example a thread."""
    for b in prange(pre.shape[0]):
        _backward_example(b, pre, perms, c, g_h, g_c, g_pre)


@njit(cache=True, fastmath=_FAST)
def cell_backward_serial(pre, perms, c, g_h, g_c, g_pre):
    """The same step back on the calling thread."""
    for b in range(pre.shape[0]):
        _backward_example(b, pre, perms, c, g_h, g_c, g_pre)
