"""The default fast-weight core (an LSTM with a delta-rule fast-weight memory) against a slow
reference written from its equations, and the behaviour its design rests on."""

from __future__ import annotations

import pytest
import torch

from fw_agents import FastWeightLSTM, make_core
from fw_agents.cores import fw_memory
from fw_agents.cores.fw_memory import _MemoryFunction, spread_decays


def slow_reference(core: FastWeightLSTM, x, state, starts):
    """The module docstring's equations with Python loops over layer, example and time.

    Written independently of the package: only the parameters are read from ``core``; the LSTM
    cell is spelled out from ``nn.LSTM``'s documented weight layout (gates i, f, g, o).
    """
    h0, c0, a0 = state
    seq_len, batch, _ = x.shape
    nh, dk, dv, hidden = core.heads, core.key_size, core.value_size, core.hidden_size
    delta = 1.0 if core.rule == "delta" else 0.0
    layer_in = [[x[t, b] for b in range(batch)] for t in range(seq_len)]
    finals = ([], [], [])
    for layer in range(core.num_layers):
        lstm, proj = core.lstm[layer], core.proj[layer]
        w_ih, w_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
        bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
        ys = [[None] * batch for _ in range(seq_len)]
        last = ([], [], [])
        for b in range(batch):
            h, c = h0[layer, b], c0[layer, b]
            mats = [a0[layer, b, head].t() for head in range(nh)]  # A (d_v × d_k); the state holds Aᵀ
            for t in range(seq_len):
                if starts[t, b] == 1:
                    h, c = torch.zeros_like(h), torch.zeros_like(c)
                    mats = [torch.zeros_like(m) for m in mats]
                xt = layer_in[t][b]
                gates = w_ih @ xt + w_hh @ h + bias
                i, f, g, o = gates.chunk(4)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                p = proj.weight @ torch.cat([h, xt]) + proj.bias
                reads = []
                for head in range(nh):
                    q = p[head * dk : (head + 1) * dk]
                    k = p[nh * dk + head * dk : nh * dk + (head + 1) * dk]
                    v = p[2 * nh * dk + head * dv : 2 * nh * dk + (head + 1) * dv]
                    w = p[2 * nh * dk + nh * dv + head]
                    kappa = k / torch.clamp(torch.sqrt((k * k).sum()), min=core.eps)
                    beta = 1.0 / (1.0 + torch.exp(-w))
                    lam = core.decays[head]
                    a = lam * mats[head]
                    a = a + beta * torch.outer(v - delta * (a @ kappa), kappa)
                    mats[head] = a
                    r = a @ q
                    reads.append((r - r.mean()) / torch.sqrt(((r - r.mean()) ** 2).mean() + core.eps))
                read = torch.cat(reads)[:hidden]
                ys[t][b] = h + core.gate[layer] * read + core.shift[layer]
            last[0].append(h)
            last[1].append(c)
            last[2].append(torch.stack([m.t() for m in mats]))
        layer_in = ys
        for i in range(3):
            finals[i].append(torch.stack(last[i]))
    y = torch.stack([torch.stack(row) for row in layer_in])
    return y, tuple(torch.stack(f) for f in finals)


def _randomise(core, gen):
    with torch.no_grad():
        for p in core.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)


def _random_state(core, batch, gen):
    return tuple(torch.randn(s.shape, generator=gen, dtype=torch.float64) * 0.5 for s in core.initial_state(batch))


SETTINGS = [
    pytest.param({}, id="default"),
    pytest.param({"rule": "add"}, id="add-rule"),
    pytest.param({"num_layers": 2, "heads": 3, "key_size": 3}, id="2layers-uneven-heads"),
    pytest.param({"decays": [0.0, 0.5], "heads": 2, "gate_init": 0.3}, id="decays-gate"),
]


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("settings", SETTINGS)
def test_matches_slow_reference(backend, settings):
    """Outputs, final state and every gradient (parameters, input, carried state) in float64."""
    _check_against_reference(backend, settings)


@pytest.mark.parametrize("chunk", [1, 2, 4, 9])
@pytest.mark.parametrize("settings", SETTINGS[:3])
def test_compiled_chunks_match_slow_reference(monkeypatch, chunk, settings):
    """The compiled backward recomputes A per chunk from checkpoints: chunk boundaries inside and
    across episode starts (steps 0, 3, 7), T = 9 not a multiple of the chunk, one chunk for all."""
    monkeypatch.setattr(fw_memory, "CHUNK", chunk)
    _check_against_reference("numba", settings)


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("settings", SETTINGS[:3])
def test_single_step_matches_slow_reference(backend, settings):
    """T = 1 (every env step of a rollout) runs the LSTM's fused cell: the same numbers and gradients,
    with an episode start in the batch."""
    _check_against_reference(backend, settings, seq_len=1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("settings", SETTINGS)
def test_rollout_step_matches_slow_reference(settings, dtype):
    """The rollout's call — one step, no autograd, its own compiled step — chained over 9 steps
    with the state carried and episode starts inside: outputs and states equal the reference's."""
    gen = torch.Generator().manual_seed(5)
    core = FastWeightLSTM(5, 10, **settings).double()
    _randomise(core, gen)
    x = torch.randn(9, 4, 5, generator=gen, dtype=torch.float64)
    state = _random_state(core, 4, gen)
    starts = torch.zeros(9, 4, dtype=torch.float64)
    starts[3, 1] = starts[0, 2] = starts[7, 0] = starts[7, 3] = 1.0
    y_ref, final_ref = slow_reference(core, x, state, starts)
    core.to(dtype)
    ys, carried = [], tuple(s.to(dtype) for s in state)
    with torch.no_grad():
        for t in range(9):
            y, carried = core(x[t : t + 1].to(dtype), carried, starts[t : t + 1].to(dtype))
            ys.append(y)
    tol = {"atol": 1e-10, "rtol": 1e-8} if dtype == torch.float64 else {"atol": 1e-4, "rtol": 1e-4}
    torch.testing.assert_close(torch.cat(ys), y_ref.detach().to(dtype), **tol)
    for a, b in zip(carried, final_ref, strict=True):
        torch.testing.assert_close(a, b.detach().to(dtype), **tol)


@pytest.mark.parametrize("final_loss", [False, True])
@pytest.mark.parametrize("chunk", [1, 4, 16])
def test_compiled_gradients_of_padded_sequences_match_slow_reference(monkeypatch, chunk, final_loss):
    """A minibatch's padded sequences: the loss reads each example only up to its own end (steps 9,
    4, 1 and 0 of 9; the backward skips the steps after the last one with a gradient), with and
    without a loss on the final state (a carried gradient: nothing can be skipped)."""
    monkeypatch.setattr(fw_memory, "CHUNK", chunk)
    _check_against_reference("numba", {}, ends=(9, 4, 1, 0), final_loss=final_loss)


def _check_against_reference(backend, settings, seq_len=9, ends=None, final_loss=True):
    """``ends``: per example, the steps the loss reads (the rest are masked out, as padding is)."""
    gen = torch.Generator().manual_seed(3)
    core = FastWeightLSTM(5, 10, backend=backend, **settings).double()
    _randomise(core, gen)
    x = torch.randn(seq_len, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    state = tuple(s.requires_grad_(True) for s in _random_state(core, 4, gen))
    starts = torch.zeros(9, 4, dtype=torch.float64)
    starts[3, 1] = starts[0, 2] = starts[7, 0] = 1.0
    starts = starts[:seq_len]
    weights = [
        torch.randn(s, generator=gen, dtype=torch.float64) for s in [(seq_len, 4, 10)] + [t.shape for t in state]
    ]
    if ends is not None:
        weights[0] = weights[0] * (torch.arange(seq_len)[:, None] < torch.tensor(ends)[None, :])[..., None]
    if not final_loss:
        weights[1:] = [torch.zeros_like(w) for w in weights[1:]]
    results = []
    for fn in (lambda: core(x, state, starts), lambda: slow_reference(core, x, state, starts)):
        y, final = fn()
        loss = (y * weights[0]).sum() + sum((f * w).sum() for f, w in zip(final, weights[1:], strict=True))
        grads = torch.autograd.grad(loss, [x, *state, *core.parameters()])
        results.append((y, final, grads))
    (y1, f1, g1), (y2, f2, g2) = results
    torch.testing.assert_close(y1, y2, atol=1e-10, rtol=1e-8)
    for a, b in zip(f1, f2, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("chunk", [16, 2])
def test_compiled_memory_gradcheck(monkeypatch, chunk):
    """The hand-derived backward of the compiled loop against finite differences, both rules, with
    one chunk and with chunks of 2 steps (T = 5)."""
    monkeypatch.setattr(fw_memory, "CHUNK", chunk)
    gen = torch.Generator().manual_seed(0)
    seq_len, batch, heads, dk, dv = 5, 2, 2, 3, 4

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)

    keep = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    lam = torch.tensor([0.7, 1.0], dtype=torch.float64)
    for delta in (1.0, 0.0):
        p = rand(seq_len, batch, heads * (2 * dk + dv + 1))  # q, k, v and w of every head, as the core projects them
        args = (p, keep, rand(batch, heads, dk, dv), lam, delta, 1e-5, (heads, dk, dv))
        assert torch.autograd.gradcheck(_MemoryFunction.apply, args)


def test_float32_kernel_matches_torch_path():
    torch.manual_seed(1)
    core = FastWeightLSTM(6, 32)
    x = torch.randn(40, 8, 6)
    starts = (torch.rand(40, 8) < 0.05).float()
    y1, s1 = core(x, None, starts)
    core.backend = "torch"
    y2, s2 = core(x, None, starts)
    torch.testing.assert_close(y1, y2, atol=1e-4, rtol=1e-4)
    for a, b in zip(s1, s2, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_inference_path_matches_the_recorded_one():
    """Without a gradient (rollouts, evaluation) the compiled memory runs with no checkpoints and no
    autograd record; its reads and state equal the recorded path's, at T = 1 and over a sequence."""
    torch.manual_seed(2)
    core = FastWeightLSTM(6, 32)
    for seq_len in (1, 21):
        x = torch.randn(seq_len, 5, 6)
        starts = (torch.rand(seq_len, 5) < 0.2).float()
        state = tuple(torch.randn(s.shape) for s in core.initial_state(5))
        y1, s1 = core(x, state, starts)
        with torch.no_grad():
            y2, s2 = core(x, state, starts)
        assert y1.requires_grad and not y2.requires_grad
        torch.testing.assert_close(y1.detach(), y2, atol=0, rtol=0)
        for a, b in zip(s1, s2, strict=True):
            torch.testing.assert_close(a.detach(), b, atol=0, rtol=0)


def _write(core, keys, values, logits):
    """Write (key, value) pairs into one head's empty memory; returns Aᵀ (d_k × d_v)."""
    q = torch.zeros(len(keys), 1, 1, core.key_size)
    k = torch.stack(keys).view(-1, 1, 1, core.key_size)
    v = torch.stack(values).view(-1, 1, 1, core.value_size)
    w = torch.tensor(logits, dtype=torch.float32).view(-1, 1, 1)
    keep = torch.ones(len(keys), 1)
    _, a = core._memory_torch(q, k, v, w, keep, torch.zeros(1, 1, core.key_size, core.value_size), 1.0)
    return a[0, 0]


def test_delta_rule_overwrites_instead_of_piling_up():
    """The property the default rests on: a stream of writes at one key replaces its value and
    leaves an earlier association at an orthogonal key intact (λ = 1, β → 1)."""
    core = FastWeightLSTM(2, 4, heads=1, key_size=2, decays=[1.0])
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])  # κ normalises e2 to (0, 1)
    cue, blank, last = torch.tensor([1.0, -1.0, 2.0, 0.5]), torch.tensor([0.2, 0.2, 0.2, 0.2]), torch.ones(4)
    a = _write(core, [e1] + [e2] * 50 + [e2], [cue] + [blank] * 50 + [last], [30.0] * 52)
    torch.testing.assert_close(e1 @ a, cue, atol=1e-5, rtol=0)  # the cue survives 51 later writes
    torch.testing.assert_close(torch.tensor([0.0, 1.0]) @ a, last, atol=1e-5, rtol=0)  # latest value wins
    add = FastWeightLSTM(2, 4, heads=1, key_size=2, decays=[1.0], rule="add")
    piled = add._memory_torch(
        torch.zeros(51, 1, 1, 2), torch.stack([e2] * 51).view(51, 1, 1, 2), blank.expand(51, 1, 1, 4),
        torch.full((51, 1, 1), 30.0), torch.ones(51, 1), torch.zeros(1, 1, 2, 4), 0.0,
    )[1][0, 0]  # fmt: skip
    assert torch.allclose(torch.tensor([0.0, 1.0]) @ piled, 51 * blank, atol=1e-3)  # the Hebbian rule piles up


def test_decays_are_spread_and_the_last_head_never_forgets():
    assert spread_decays(1) == [1.0]
    lams = spread_decays(4)
    assert lams[-1] == 1.0 and lams == sorted(lams)
    assert [round(1 / (1 - lam)) for lam in lams[:-1]] == [4, 20, 100]
    assert FastWeightLSTM(3, 8).decays == lams


def test_hidden_size_not_a_multiple_of_heads():
    core = FastWeightLSTM(3, 10, heads=4)
    assert core.value_size == 3
    y, (_, _, a) = core(torch.randn(5, 2, 3))
    assert y.shape == (5, 2, 10) and a.shape == (1, 2, 4, core.key_size, 3)
    assert core.state_size == 10 + 10 + 4 * core.key_size * 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"heads": 0}, "heads must be a positive integer"),
        ({"key_size": 0}, "key_size must be a positive integer"),
        ({"rule": "hebb"}, "rule must be one of"),
        ({"backend": "cuda"}, "backend must be one of"),
        ({"decays": [0.5]}, "decays must be 4 values"),
        ({"decays": [0.5, 0.5, 0.5, 1.5]}, "decays must be 4 values"),
        ({"dropout": 1.0}, "dropout must lie in"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FastWeightLSTM(3, 8, **kwargs)


def test_starts_as_an_lstm_plus_the_gated_read():
    """With the gate at 0 the output is exactly the LSTM's h; the gate adds the normalised read."""
    torch.manual_seed(0)
    closed = FastWeightLSTM(3, 8, gate_init=0.0)
    lstm = torch.nn.LSTM(3, 8)
    lstm.load_state_dict(closed.lstm[0].state_dict())
    x = torch.randn(7, 2, 3)
    torch.testing.assert_close(closed(x)[0], lstm(x)[0])
    stats = closed.memory_diagnostics(x)
    assert stats["read_ratio/0"] == 0.0 and stats["gate_abs/0"] == 0.0 and 0.0 < stats["write/0"] < 1.0
    assert make_core("fw", 3, 8).settings()["gate_init"] == 0.0  # the shipped default starts closed
    opened = make_core("fw", 3, 8, gate_init=1.0)
    assert opened.memory_diagnostics(x)["read_ratio/0"] > 0.0


@pytest.mark.parametrize("rule", ["delta", "add"])
def test_read_weights_rebuild_the_read(rule):
    """The video's memory panel: Σ_j w_j v(j), normalised per head, is the core's own read-out."""
    torch.manual_seed(2)
    core = FastWeightLSTM(3, 8, heads=2, key_size=3, decays=[0.8, 1.0], rule=rule).double()
    x = torch.randn(12, 3, dtype=torch.float64)
    y, _ = core(x[:, None])
    weights = core.read_weights(x)  # (heads, T)
    hs, _, _ = core._slow(0, x[:, None], torch.zeros(1, 8, dtype=torch.float64),
                          torch.zeros(1, 8, dtype=torch.float64), None)  # fmt: skip
    _, _, v, _ = core.projections(0, hs, x[:, None])
    raw = torch.einsum("hj,jhv->hv", weights, v[:, 0])
    read = torch.nn.functional.layer_norm(raw, (core.value_size,), eps=core.eps).flatten()
    torch.testing.assert_close(core.gate[0] * read + hs[-1, 0] + core.shift[0], y[-1, 0])
