"""The recurrent cores: the fast-weight equations against a slow reference, and the shared interface."""

from __future__ import annotations

import pytest
import torch

from fw_agents import FastWeightRNN, available_cores, make_core
from fw_agents.cores.fast_weights import PAPER_SETTINGS, PaperFastWeightRNN

torch.set_default_dtype(torch.float32)

# Every fast-weight implementation the package has: the explicit matrix loop, the eager
# attention loop, and the compiled attention kernels.
FW_VARIANTS = [
    pytest.param({"form": "matrix"}, id="matrix"),
    pytest.param({"form": "attention", "backend": "torch"}, id="attention-torch"),
    pytest.param({"form": "attention", "backend": "numba"}, id="attention-numba"),
]
ALL_CORES = [
    pytest.param("fw", {}, id="fw"),
    pytest.param("fw", {"backend": "torch"}, id="fw-torch"),
    pytest.param("fw-rnn", {"form": "matrix"}, id="fw-rnn-matrix"),
    pytest.param("fw-rnn", {"form": "attention"}, id="fw-rnn-attention"),
    pytest.param("lstm", {}, id="lstm"),
    pytest.param("gru", {}, id="gru"),
    pytest.param("irnn", {}, id="irnn"),
    pytest.param("alstm", {}, id="alstm"),
    pytest.param("ff", {}, id="ff"),
]


SHIPPED = {"shipped": True}  # marks the core as shipped (``FastWeightRNN`` with no further arguments)


def slow_reference(core: FastWeightRNN, x, h0, a0, starts):
    """The paper's equations with plain Python loops over layer, time, example and inner step.

    Written independently of the package: only the parameters are read from ``core``.
    """
    seq_len, batch, _ = x.shape
    layer_in = [[x[t, b] for b in range(batch)] for t in range(seq_len)]
    h_out, a_out = [], []
    for layer in range(core.num_layers):
        w, c, bias = core.W[layer], core.C[layer], core.bias[layer]
        gain, shift = core.ln_gain[layer], core.ln_bias[layer]
        # the options: λ = sigmoid(logit), η = softplus(raw), a gate per unit or one per layer
        lam = torch.sigmoid(core.decay_logit[layer]) if core.learn_decay else core.decay
        eta = torch.log1p(torch.exp(core.fast_lr_raw[layer])) if core.learn_fast_lr else core.fast_lr
        gate = core.gate[layer] if core.read_gate is not None else 1.0
        ys = [[None] * batch for _ in range(seq_len)]
        h_last, a_last = [], []
        for b in range(batch):
            h, a = h0[layer, b], a0[layer, b]
            for t in range(seq_len):
                if starts[t, b] == 1:
                    h, a = torch.zeros_like(h), torch.zeros_like(a)
                a = lam * a + eta * torch.outer(h, h)  # A(t) contains h(t)
                z = w @ h + c @ layer_in[t][b] + bias
                v = torch.relu(z)
                for _ in range(core.inner_steps):
                    read = a @ v
                    if core.read_norm:  # its own layer norm, no gain or bias
                        read = (read - read.mean()) / torch.sqrt(((read - read.mean()) ** 2).mean() + core.ln_eps)
                    zi = z
                    if core.norm_input:  # the input term normalised the same way
                        zi = (z - z.mean()) / torch.sqrt(((z - z.mean()) ** 2).mean() + core.ln_eps)
                    u = zi + gate * read
                    if core.layer_norm:
                        mean = u.mean()
                        var = ((u - mean) ** 2).mean()
                        u = (u - mean) / torch.sqrt(var + core.ln_eps) * gain + shift
                    v = torch.relu(u)
                h = v
                ys[t][b] = h
            h_last.append(h)
            a_last.append(a)
        layer_in = ys
        h_out.append(torch.stack(h_last))
        a_out.append(torch.stack(a_last))
    y = torch.stack([torch.stack(row) for row in layer_in])
    return y, torch.stack(h_out), torch.stack(a_out)


def _random_state(layers, batch, hidden, gen):
    h0 = torch.rand(layers, batch, hidden, generator=gen, dtype=torch.float64)
    m = torch.randn(layers, batch, hidden, hidden, generator=gen, dtype=torch.float64) * 0.1
    return h0, m + m.transpose(-1, -2)


def _randomise(core, gen):
    with torch.no_grad():
        for p in core.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.4)


@pytest.mark.parametrize("variant", FW_VARIANTS)
@pytest.mark.parametrize(
    "settings",
    [
        {"inner_steps": 1},
        {"inner_steps": 3, "decay": 0.8, "fast_lr": 0.3},
        {"inner_steps": 2, "layer_norm": False, "fast_lr": 0.05},
        {"inner_steps": 2, "num_layers": 2},
        {"read_gate": "unit"},
        {"read_gate": "layer", "inner_steps": 2, "num_layers": 2},
        {"learn_decay": True, "learn_fast_lr": True, "decay": 0.8, "fast_lr": 0.3},
        {"read_gate": "unit", "read_norm": True, "inner_steps": 2},
        {"read_gate": "unit", "read_norm": True, "norm_input": True, "inner_steps": 2},
        SHIPPED,
        {
            "read_gate": "unit",
            "learn_decay": True,
            "learn_fast_lr": True,
            "read_norm": True,
            "inner_steps": 2,
            "num_layers": 2,
        },
    ],
    ids=[
        "S1",
        "S3",
        "noLN",
        "2layers",
        "gate-unit",
        "gate-layer-2layers",
        "learned-lam-eta",
        "gate-read-norm",
        "norm-input",
        "shipped-default",
        "all-options-2layers",
    ],
)
def test_matches_slow_reference(variant, settings):
    gen = torch.Generator().manual_seed(0)
    seq_len, batch, feat, hidden = 7, 3, 4, 5
    # every setting modifies the paper's core, except the shipped default, taken as it is
    options = {k: v for k, v in settings.items() if k != "shipped"}
    base = {} if settings.get("shipped") else PAPER_SETTINGS
    core = FastWeightRNN(feat, hidden, **{**base, **variant, **options}).double()
    _randomise(core, gen)
    x = torch.randn(seq_len, batch, feat, generator=gen, dtype=torch.float64, requires_grad=True)
    h0, a0 = _random_state(core.num_layers, batch, hidden, gen)
    h0.requires_grad_(True)
    a0.requires_grad_(True)
    starts = torch.zeros(seq_len, batch, dtype=torch.float64)
    starts[3, 1] = 1
    starts[5, 2] = 1
    y, (h, a) = core(x, (h0, a0), starts)
    y_ref, h_ref, a_ref = slow_reference(core, x, h0, a0, starts)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(h, h_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(a, a_ref, atol=1e-5, rtol=0)

    weights = torch.randn(y.shape, generator=gen, dtype=torch.float64)
    wa = torch.randn(a.shape, generator=gen, dtype=torch.float64)
    inputs = [x, h0, a0, *core.parameters()]

    def grads(out, h_fin, a_fin):
        loss = (out * weights).sum() + h_fin.sum() + (a_fin * wa).sum()
        gs = torch.autograd.grad(loss, inputs, allow_unused=True)
        return [torch.zeros_like(i) if g is None else g for g, i in zip(gs, inputs, strict=True)]

    for g, g_ref in zip(grads(y, h, a), grads(y_ref, h_ref, a_ref), strict=True):
        torch.testing.assert_close(g, g_ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("variant", FW_VARIANTS)
def test_gradcheck(variant):
    gen = torch.Generator().manual_seed(1)
    core = PaperFastWeightRNN(3, 4, inner_steps=2, **variant).double()
    _randomise(core, gen)
    x = torch.randn(5, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    h0, a0 = _random_state(1, 2, 4, gen)
    a0.requires_grad_(True)
    starts = torch.zeros(5, 2, dtype=torch.float64)
    starts[2, 0] = 1

    # gradcheck perturbs its inputs, so the parameters enter through functional_call.
    def functional(x, a0, w, c, gain):
        params = {"W.0": w, "C.0": c, "ln_gain.0": gain}
        return torch.func.functional_call(core, params, (x, (h0, a0), starts))

    w = core.W[0].detach().clone().requires_grad_(True)
    c = core.C[0].detach().clone().requires_grad_(True)
    gain = core.ln_gain[0].detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda *a: functional(*a)[0], (x, a0, w, c, gain))
    assert torch.autograd.gradcheck(lambda *a: functional(*a)[1][1], (x, a0, w, c, gain))


def test_attention_kernel_in_float32_matches_matrix():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(40, 6, 8, generator=gen)
    starts = (torch.rand(40, 6, generator=gen) < 0.1).float()
    matrix = FastWeightRNN(8, 16, form="matrix")
    attention = FastWeightRNN(8, 16, form="attention", backend="numba")
    attention.load_state_dict(matrix.state_dict())
    y_m, (_h_m, a_m) = matrix(x, None, starts)
    y_a, (_h_a, a_a) = attention(x, None, starts)
    torch.testing.assert_close(y_a, y_m, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(a_a, a_m, atol=1e-4, rtol=1e-4)


def test_fast_lr_zero_is_ln_relu_rnn_and_decay_irrelevant():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(9, 4, 3, generator=gen, dtype=torch.float64)
    outs = []
    for decay in (0.0, 0.5, 0.95):
        core = PaperFastWeightRNN(3, 6, fast_lr=0.0, decay=decay, inner_steps=2).double()
        torch.manual_seed(0)
        core.reset_parameters()
        _randomise(core, torch.Generator().manual_seed(4))
        outs.append(core(x)[0])
    for y in outs[1:]:
        torch.testing.assert_close(y, outs[0])
    # An ordinary LN-ReLU RNN: h(t+1) = relu(LN(W h(t) + C x(t) + b)).
    h = torch.zeros(4, 6, dtype=torch.float64)
    ys = []
    for t in range(9):
        u = h @ core.W[0].T + x[t] @ core.C[0].T + core.bias[0]
        h = torch.relu(torch.nn.functional.layer_norm(u, (6,), core.ln_gain[0], core.ln_bias[0]))
        ys.append(h)
    torch.testing.assert_close(outs[0], torch.stack(ys))


def test_memory_must_already_contain_previous_hidden_state():
    """A(t) used for h(t+1) includes h(t): with W = 0 and no input, step 1 still reads h(0)."""
    core = PaperFastWeightRNN(1, 3, fast_lr=1.0, decay=0.0, layer_norm=False, form="matrix").double()
    with torch.no_grad():
        core.W[0].zero_()
        core.C[0].zero_()
        core.bias[0].fill_(1.0)
    x = torch.zeros(2, 1, 1, dtype=torch.float64)
    y, _ = core(x)
    # step 0: h = 0, A = 0 -> z = 1 -> v0 = 1 -> v1 = relu(1 + 0) = 1
    # step 1: A = h hᵀ with h = 1 -> v1 = relu(1 + A·1) = 1 + 3 = 4 (would be 1 with A(t−1))
    torch.testing.assert_close(y[:, 0, 0], torch.tensor([1.0, 4.0], dtype=torch.float64))
    for variant in ({"form": "attention", "backend": "torch"}, {"form": "attention", "backend": "numba"}):
        other = PaperFastWeightRNN(1, 3, fast_lr=1.0, decay=0.0, layer_norm=False, **variant).double()
        other.load_state_dict(core.state_dict())
        torch.testing.assert_close(other(x)[0], y)


def test_ten_thousand_steps_stay_finite():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(10_000, 2, 4, generator=gen) * 3
    core = FastWeightRNN(4, 16, form="matrix")
    y, (_h, a) = core(x)
    assert torch.isfinite(y).all() and torch.isfinite(a).all()
    attention = FastWeightRNN(4, 16, form="attention")
    attention.load_state_dict(core.state_dict())
    state = None
    for chunk in x.split(250):
        y_chunk, state = attention(chunk, state)
        assert torch.isfinite(y_chunk).all()
    torch.testing.assert_close(state[1], a, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"decay": 1.5}, "decay"),
        ({"decay": -0.1}, "decay"),
        ({"fast_lr": -1.0}, "fast_lr"),
        ({"inner_steps": 0}, "inner_steps"),
        ({"form": "dense"}, "form"),
        ({"dropout": 1.0}, "dropout"),
        ({"backend": "cuda"}, "backend"),
        ({"read_gate": "head"}, "read_gate"),
        ({"gate_init": "wide"}, "gate_init"),
        ({"learn_decay": True, "decay": 1.0}, "decay"),
        ({"learn_fast_lr": True, "fast_lr": 0.0}, "fast_lr"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        FastWeightRNN(4, 8, **kwargs)


def test_gate_and_learned_settings_start_where_asked():
    core = FastWeightRNN(4, 5, read_gate="unit", gate_init="spread", learn_decay=True, learn_fast_lr=True,
                         decay=0.9, fast_lr=0.3, num_layers=2)  # fmt: skip
    for layer in range(2):
        torch.testing.assert_close(core.gate[layer].data, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
        assert abs(core.decay_of(layer).item() - 0.9) < 1e-6 and abs(core.fast_lr_of(layer).item() - 0.3) < 1e-6
    assert FastWeightRNN(4, 5, read_gate="layer", gate_init=0.2).gate[0].shape == (1,)
    paper = make_core("fw-paper", 4, 5)
    assert paper.read_gate is None and not paper.read_norm and len(paper.gate) == 0
    assert sum(p.numel() for p in paper.parameters()) == 5 * 5 + 5 * 4 + 3 * 5  # W, C, b, LN gain and bias


@pytest.mark.parametrize("name", ["lstm", "fw-lstm"])
@pytest.mark.parametrize("forget_bias", [1.0, 2.5])
def test_forget_gate_starts_at_the_asked_bias(name, forget_bias):
    """With x = 0 and h = 0 the first step's cell is σ(b_f)·c + σ(b_i)·tanh(b_g): the forget gate
    is σ(forget_bias) exactly, in every layer, in both LSTM cores."""
    torch.manual_seed(0)
    core = make_core(name, 4, 6, num_layers=2, forget_bias=forget_bias)
    for layer in range(2):
        lstm, index = (core.rnn, layer) if name == "lstm" else (core.lstm[layer], 0)
        b = getattr(lstm, f"bias_ih_l{index}") + getattr(lstm, f"bias_hh_l{index}")
        b_i, b_f, b_g, _ = b.detach().chunk(4)
        torch.testing.assert_close(b_f, torch.full((6,), forget_bias))
        if layer == 0:
            state = [torch.zeros_like(s) for s in core.initial_state(1)]
            state[1] = torch.ones_like(state[1])
            _, new = core(torch.zeros(1, 1, 4), tuple(state))
            expected = torch.sigmoid(b_f) + torch.sigmoid(b_i) * torch.tanh(b_g)
            torch.testing.assert_close(new[1][0, 0], expected)
    # the default keeps torch's init (a forget bias near 0, not a constant)
    default = make_core(name, 4, 6)
    lstm = default.rnn if name == "lstm" else default.lstm[0]
    assert lstm.bias_ih_l0[6:12].abs().max() < 1 / 6**0.5 and lstm.bias_ih_l0[6:12].std() > 0
    with pytest.raises(ValueError, match="forget_bias"):
        make_core(name, 4, 6, forget_bias="high")


def test_bad_sizes_and_shapes_raise():
    with pytest.raises(ValueError, match="hidden_size"):
        FastWeightRNN(4, 0)
    core = FastWeightRNN(4, 8)
    with pytest.raises(ValueError, match="x must have shape"):
        core(torch.zeros(3, 2, 5))
    with pytest.raises(ValueError, match="x must have shape"):
        core(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="episode_starts"):
        core(torch.zeros(3, 2, 4), episode_starts=torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"state\[1\]"):
        core(torch.zeros(3, 2, 4), (torch.zeros(1, 2, 8), torch.zeros(1, 3, 8, 8)))


def test_unknown_core_lists_known_ones():
    with pytest.raises(ValueError, match=r"known cores: .*fw.*lstm") as info:
        make_core("lstn", 3, 4)
    assert "Did you mean 'lstm'" in str(info.value)


def test_registry_has_the_baselines():
    assert {"fw", "fw-rnn", "fw-paper", "lstm", "irnn", "gru", "alstm", "ff"} <= set(available_cores())


# ------------------------------------------------------ the shared interface


def _build(name, kwargs, layers=1):
    torch.manual_seed(0)
    return make_core(name, 5, 8, num_layers=layers, **kwargs).eval()


@pytest.mark.parametrize(("name", "kwargs"), ALL_CORES)
def test_shapes_and_initial_state(name, kwargs):
    core = _build(name, kwargs, layers=2)
    x = torch.randn(6, 3, 5)
    y, state = core(x)
    assert y.shape == (6, 3, 8)
    empty = core.initial_state(3)
    assert all((s == 0).all() for s in empty)
    assert [s.shape for s in state] == [s.shape for s in empty]
    flat = core.pack_state(state)
    assert flat.shape == (3, core.state_size)
    for a, b in zip(core.unpack_state(flat), state, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(("name", "kwargs"), ALL_CORES)
def test_chunks_equal_one_pass(name, kwargs):
    core = _build(name, kwargs)
    x = torch.randn(10, 4, 5)
    starts = torch.zeros(10, 4)
    starts[6, 2] = 1
    y, state = core(x, None, starts)
    y1, mid = core(x[:4], None, starts[:4])
    y2, end = core(x[4:], mid, starts[4:])
    torch.testing.assert_close(torch.cat([y1, y2]), y, atol=1e-5, rtol=1e-5)
    for a, b in zip(end, state, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("name", "kwargs"), ALL_CORES)
def test_episode_start_equals_fresh_run(name, kwargs):
    core = _build(name, kwargs)
    x = torch.randn(10, 3, 5)
    starts = torch.zeros(10, 3)
    starts[4, 1] = 1
    y, _ = core(x, None, starts)
    fresh, _ = core(x[4:, 1:2])
    torch.testing.assert_close(y[4:, 1:2], fresh, atol=1e-5, rtol=1e-5)
    # examples without a start are unaffected
    unaffected, _ = core(x[:, [0, 2]])
    torch.testing.assert_close(y[:, [0, 2]], unaffected, atol=1e-5, rtol=1e-5)
    # a start at step 0 ignores whatever state was passed in
    junk = tuple(torch.randn_like(s) for s in core.initial_state(3))
    first = torch.zeros(10, 3)
    first[0] = 1
    torch.testing.assert_close(core(x, junk, first)[0], core(x)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("name", "kwargs"), ALL_CORES)
def test_causal(name, kwargs):
    core = _build(name, kwargs)
    x = torch.randn(8, 2, 5)
    y, _ = core(x)
    x2 = x.clone()
    x2[5:] = torch.randn(3, 2, 5) * 10
    y2, _ = core(x2)
    torch.testing.assert_close(y2[:5], y[:5])
    assert not torch.allclose(y2[5:], y[5:])


@pytest.mark.parametrize(("name", "kwargs"), ALL_CORES)
def test_dropout_between_layers(name, kwargs):
    torch.manual_seed(0)
    core = make_core(name, 5, 8, num_layers=2, dropout=0.5, **kwargs)
    x = torch.randn(6, 3, 5)
    core.train()
    assert not torch.allclose(core(x)[0], core(x)[0])
    core.eval()
    torch.testing.assert_close(core(x)[0], core(x)[0])


def test_fast_weight_state_packs_symmetric_matrix_compactly():
    core = FastWeightRNN(4, 8, num_layers=2)
    assert core.state_size == 2 * 8 + 2 * 8 * 9 // 2
    assert make_core("lstm", 4, 8).state_size == 16
    assert make_core("gru", 4, 8).state_size == 8


def test_parallel_and_serial_kernels_agree(monkeypatch):
    """The thread-pool kernels (large batches, several torch threads) equal the serial ones."""
    from fw_agents.cores import fast_weights

    gen = torch.Generator().manual_seed(6)
    core = FastWeightRNN(4, 6, inner_steps=2, form="attention", backend="numba").double()
    _randomise(core, gen)
    x = torch.randn(9, 5, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    h0, a0 = _random_state(1, 5, 6, gen)
    a0.requires_grad_(True)
    starts = (torch.rand(9, 5, generator=gen) < 0.2).double()
    results = []
    threads = torch.get_num_threads()
    for min_work, n_threads in ((10**9, 1), (0, 2)):
        monkeypatch.setattr(fast_weights, "PARALLEL_MIN_WORK", min_work)
        torch.set_num_threads(n_threads)
        assert fast_weights._parallel(9, 5) == (n_threads == 2)
        y, (_h, a) = core(x, (h0, a0), starts)
        grads = torch.autograd.grad((y.sin().sum() + a.sum()), [x, a0, *core.parameters()])
        results.append((y, a, grads))
    torch.set_num_threads(threads)
    (y1, a1, g1), (y2, a2, g2) = results
    torch.testing.assert_close(y1, y2)
    torch.testing.assert_close(a1, a2)
    for u, v in zip(g1, g2, strict=True):
        torch.testing.assert_close(u, v)


@pytest.mark.parametrize(("name", "kwargs"), ALL_CORES)
def test_one_step_at_a_time_equals_one_pass(name, kwargs):
    """The rollout case: T = 1 calls, passing the state, with resets, equal one long call."""
    core = _build(name, kwargs)
    x = torch.randn(12, 3, 5)
    starts = torch.zeros(12, 3)
    starts[0] = 1
    starts[5, 0] = starts[8, 2] = 1
    y, final = core(x, None, starts)
    state, ys = None, []
    for t in range(12):
        y_t, state = core(x[t : t + 1], state, starts[t : t + 1])
        # the rollout buffer round trip: pack and unpack between steps
        state = core.unpack_state(core.pack_state(state))
        ys.append(y_t)
    torch.testing.assert_close(torch.cat(ys), y, atol=1e-5, rtol=1e-5)
    for a, b in zip(state, final, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_alstm_compiled_and_torch_forwards_equal_the_stepwise_reference():
    """The A-LSTM's compiled cell (numba, hand-derived backward; keys projected once and read through
    each copy's permutation) and its torch forward (one input projection for all steps, permuted key
    copies from the projection's weight) both equal the first, step-by-step implementation: outputs,
    states and every gradient, across episode starts, two layers and bounds that clip (|z| > 1)."""
    torch.manual_seed(0)
    core = make_core("alstm", 6, 10, num_layers=2, n_copies=3).double()
    x = (3 * torch.randn(9, 5, 6, dtype=torch.float64)).requires_grad_()
    starts = torch.zeros(9, 5, dtype=torch.float64)
    starts[0], starts[4, 2], starts[6, 0] = 1.0, 1.0, 1.0
    state = tuple(torch.randn(2, 5, n, dtype=torch.float64, requires_grad=True) for n in (10, 30))
    results = []
    for backend, forward in (("numba", "_forward"), ("torch", "_forward"), ("torch", "_forward_stepwise")):
        core.backend = backend
        y, (h, c) = getattr(core, forward)(x, state, starts)
        loss = (y**2).sum() + (1.7 * h).sum() + (c**3).sum()
        results.append((y, h, c, torch.autograd.grad(loss, [x, *state, *core.parameters()])))
    (y1, h1, c1, g1), *others = results
    for y2, h2, c2, g2 in others:
        for a, b in [(y1, y2), (h1, h2), (c1, c2), *zip(g1, g2, strict=True)]:
            torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


def test_alstm_compiled_cell_passes_gradcheck_and_matches_in_float32():
    from fw_agents.cores.alstm import _CellFunction

    torch.manual_seed(1)
    core = make_core("alstm", 4, 6, n_copies=2)
    perms = core.perms
    pre_x = (2 * torch.randn(4, 3, 27, dtype=torch.float64)).requires_grad_()
    w_h = torch.randn(6, 27, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(3, 2, 2, 3, dtype=torch.float64, requires_grad=True)
    keep = torch.tensor([[1.0, 1, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda *a: _CellFunction.apply(*a, keep, perms), (pre_x, w_h, h0, c0))
    x = torch.randn(7, 5, 4)
    state = core.initial_state(5)
    y32, _ = core(x, state)
    core.backend = "torch"
    torch.testing.assert_close(core(x, state)[0], y32, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"hidden_size": 7}, "even"), ({"n_copies": 0}, "n_copies"), ({"dropout": 1.0}, "dropout"),
     ({"backend": "cuda"}, "backend")],
)  # fmt: skip
def test_alstm_bad_settings_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_core("alstm", 4, **{"hidden_size": 6, **kwargs})


def test_the_memoryless_core_sees_only_the_current_step():
    """``ff``'s output at t is a function of x(t) alone: no state, no effect of earlier steps."""
    torch.manual_seed(0)
    core = make_core("ff", 5, 8, num_layers=2)
    x = torch.randn(6, 3, 5)
    y, state = core(x)
    for t in range(6):
        torch.testing.assert_close(y[t], core(x[t : t + 1])[0][0])
    assert not bool(state[0].any())


def test_a_new_core_is_one_file(tmp_path):
    """A core defined here, in one place, trains through train.ppo, has its settings pinned in the
    run's config, draws its memory panel in the video and logs its diagnostics — no other module knows it."""
    import numpy as np
    import yaml
    from helpers import TINY

    from fw_agents.cores.base import _REGISTRY, RecurrentCore, State, register_core
    from fw_agents.diagnostics import rollout_memory_stats
    from fw_agents.run_folder import load_model, play_env, read_config
    from fw_agents.video import record
    from train import ppo
    from train._cli import run_cli

    class DecayingTrace(RecurrentCore):
        """m(t) = λ m(t−1) + x(t) projected; y(t) = tanh(W x(t) + m(t))."""

        def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1, decay: float = 0.9) -> None:
            super().__init__(input_size, hidden_size, num_layers)
            self.decay = decay
            self.inp = torch.nn.Linear(input_size, hidden_size)
            self.write = torch.nn.Linear(input_size, hidden_size, bias=False)

        def settings(self) -> dict[str, object]:
            return {"decay": self.decay}

        def state_shapes(self) -> list[tuple[int, ...]]:
            return [(1, self.hidden_size)]

        def _forward(self, x: torch.Tensor, state: State, episode_starts: torch.Tensor | None) -> tuple:
            m, ys = state[0][0], []
            for t in range(x.shape[0]):
                if episode_starts is not None:
                    m = m * (1 - episode_starts[t])[:, None]
                m = self.decay * m + self.write(x[t])
                ys.append(torch.tanh(self.inp(x[t]) + m))
            return torch.stack(ys), (m[None],)

        def read_weights(self, x: torch.Tensor) -> torch.Tensor:
            return (self.decay ** torch.arange(x.shape[0] - 1, -1, -1, dtype=x.dtype))[None]

        def memory_diagnostics(self, x, state=None, episode_starts=None) -> dict[str, float]:
            return {"trace_norm/0": float(self(x, state, episode_starts)[1][0].norm())}

    register_core("test-trace")(DecayingTrace)
    try:
        argv = ["--env", "MemoryCatch", "--core", "test-trace", "--timesteps", "64", "--log-folder", str(tmp_path),
                "--run-name", "trace", "--hyperparams", "policy_kwargs.core_kwargs.decay:0.5", *TINY]  # fmt: skip
        assert run_cli(ppo.main, argv) == 0
        run = tmp_path / "trace"
        config = read_config(run)
        assert config["core"] == "test-trace"
        model = load_model(run / "model.zip")
        assert model.policy_kwargs["core_kwargs"] == {"decay": 0.5}
        assert yaml.safe_load((run / "config.yml").read_text())["policy_kwargs"]["core_kwargs"] == {"decay": 0.5}
        frames, _ = record(model, play_env(config, run / "model.zip", render_mode="rgb_array"), episodes=1)
        # every step's frame has three panels (the core's memory panel drawn); the outcome's hold frames two
        assert sum(frame.shape[1] > 3 * 256 for frame in frames) == len(frames) - 3
        assert np.isfinite(list(_diagnostics_after_a_rollout(model, rollout_memory_stats).values())).all()
    finally:
        _REGISTRY.pop("test-trace", None)


def _diagnostics_after_a_rollout(model, stats_fn):
    """Collect one short rollout with ``model`` and return its memory diagnostics."""
    from helpers import stats_at_rollout_end
    from stable_baselines3.common.env_util import make_vec_env

    import envs

    model.set_env(make_vec_env(lambda: envs.make_env("MemoryCatch"), n_envs=2))
    captured = stats_at_rollout_end(model, stats_fn)
    assert set(captured) == {"actor_trace_norm_0", "critic_trace_norm_0"}
    return captured


@pytest.mark.parametrize("kind", [torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN])
def test_single_steps_run_the_fused_cell_with_the_same_numbers(kind):
    """``run_rnn`` at T = 1 (the rollout case) runs torch's fused cell per layer: outputs, states and
    every gradient equal the multi-step module's, in float64, two layers."""
    from fw_agents.cores.base import run_rnn

    torch.manual_seed(0)
    rnn = kind(5, 7, num_layers=2).double()
    x = torch.randn(1, 3, 5, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 3, 7, dtype=torch.float64, requires_grad=True)
    state = (h, torch.randn(2, 3, 7, dtype=torch.float64)) if kind is torch.nn.LSTM else h
    fast, slow = run_rnn(rnn, x, state), rnn(x, state)
    torch.testing.assert_close(fast, slow)
    fast_grads = torch.autograd.grad(fast[0].sum(), [x, h, *rnn.parameters()])
    slow_grads = torch.autograd.grad(slow[0].sum(), [x, h, *rnn.parameters()])
    for a, b in zip(fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(a, b)
    no_bias = kind(5, 7, bias=False).double()  # not a plain RNN: the module itself runs
    one_layer = (state[0][:1], state[1][:1]) if isinstance(state, tuple) else h[:1]
    torch.testing.assert_close(run_rnn(no_bias, x, one_layer)[0], no_bias(x, one_layer)[0])
