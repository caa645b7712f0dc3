"""The one interface every recurrent core shares, and the registry that names them.

A core maps a sequence ``x`` of shape (T, B, F) to outputs ``y`` of shape (T, B, H):

    y, state = core(x, state=None, episode_starts=None)

``episode_starts`` (T, B) of 0/1 clears the memory of example b *before* step t is
processed. ``core.initial_state(B)`` is the empty memory, and an all-zero state always
means empty memory, so a state can be reset by multiplying it by ``1 - start``.

Every state is a tuple of tensors whose second dimension (dim 1) is the batch. For the
rollout buffers of RecurrentPPO a state is flattened to ``(B, core.state_size)`` floats by
``core.pack_state`` and restored by ``core.unpack_state``.
"""

from __future__ import annotations

import difflib
import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import nn

State = tuple[torch.Tensor, ...]


class RecurrentCore(nn.Module, ABC):
    """Base class of the recurrent cores (fast weights, LSTM, IRNN, GRU, A-LSTM).

    Subclasses implement :meth:`_forward` (the time loop, with resets) and :meth:`state_shapes`
    (the shape of each state tensor for one example); this class checks inputs, creates empty
    states, and packs states into flat vectors.
    """

    input_size: int
    hidden_size: int
    num_layers: int

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        _check_positive_int("input_size", input_size)
        _check_positive_int("hidden_size", hidden_size)
        _check_positive_int("num_layers", num_layers)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers

    # ----------------------------------------------------------------- state
    @abstractmethod
    def state_shapes(self) -> list[tuple[int, ...]]:
        """Shape of each state tensor, with the batch dimension (dim 1) left out."""

    @property
    def state_size(self) -> int:
        """Floats per example in the packed state (what a rollout buffer stores per step)."""
        return sum(self._packed_width(i, shape) for i, shape in enumerate(self.state_shapes()))

    def _packed_width(self, index: int, shape: tuple[int, ...]) -> int:
        n = 1
        for d in shape:
            n *= d
        return n

    def initial_state(
        self,
        batch_size: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> State:
        """The empty memory for ``batch_size`` examples: all zeros."""
        ref = next(self.parameters(), None)
        device = device if device is not None else (ref.device if ref is not None else "cpu")
        dtype = dtype if dtype is not None else (ref.dtype if ref is not None else torch.float32)
        return tuple(
            torch.zeros((shape[0], batch_size, *shape[1:]), device=device, dtype=dtype) for shape in self.state_shapes()
        )

    def pack_state(self, state: State) -> torch.Tensor:
        """Flatten a state into a (B, state_size) tensor."""
        parts = []
        for i, tensor in enumerate(state):
            per_example = tensor.transpose(0, 1)  # (B, L, ...)
            parts.append(self._pack_part(i, per_example))
        return torch.cat(parts, dim=1)

    def _pack_part(self, index: int, per_example: torch.Tensor) -> torch.Tensor:
        return per_example.reshape(per_example.shape[0], -1)

    def unpack_state(self, flat: torch.Tensor) -> State:
        """Inverse of :meth:`pack_state`: a (B, state_size) tensor back into a state."""
        if flat.dim() != 2 or flat.shape[1] != self.state_size:
            raise ValueError(f"packed state must have shape (batch, {self.state_size}), got {tuple(flat.shape)}")
        out = []
        offset = 0
        for i, shape in enumerate(self.state_shapes()):
            width = self._packed_width(i, shape)
            chunk = flat[:, offset : offset + width]
            offset += width
            out.append(self._unpack_part(i, chunk, shape).transpose(0, 1).contiguous())
        return tuple(out)

    def _unpack_part(self, index: int, chunk: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return chunk.reshape(chunk.shape[0], *shape)

    # --------------------------------------------------------------- forward
    def forward(
        self,
        x: torch.Tensor,
        state: State | None = None,
        episode_starts: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, State]:
        """Run the core over a sequence.

        :param x: inputs, (T, B, input_size).
        :param state: state before step 0 (``None``: empty memory).
        :param episode_starts: (T, B) of 0/1; 1 clears that example's memory before step t.
        :return: outputs (T, B, hidden_size) and the state after the last step.
        """
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(
                f"x must have shape (T, B, {self.input_size}) = (time, batch, input_size), got {tuple(x.shape)}"
            )
        seq_len, batch = x.shape[0], x.shape[1]
        if state is None:
            state = self.initial_state(batch, device=x.device, dtype=x.dtype)
        else:
            state = tuple(state)
            shapes = self.state_shapes()
            if len(state) != len(shapes):
                raise ValueError(f"state must be a tuple of {len(shapes)} tensors, got {len(state)}")
            for i, (tensor, shape) in enumerate(zip(state, shapes, strict=True)):
                expected = (shape[0], batch, *shape[1:])
                if tuple(tensor.shape) != expected:
                    raise ValueError(
                        f"state[{i}] must have shape {expected} for batch {batch}, got {tuple(tensor.shape)}"
                    )
        if episode_starts is not None:
            episode_starts = episode_starts.to(device=x.device, dtype=x.dtype)
            if tuple(episode_starts.shape) != (seq_len, batch):
                raise ValueError(
                    f"episode_starts must have shape (T, B) = {(seq_len, batch)}, got {tuple(episode_starts.shape)}"
                )
            if not bool(episode_starts.any()):
                episode_starts = None
        return self._forward(x, state, episode_starts)

    @abstractmethod
    def _forward(
        self, x: torch.Tensor, state: State, episode_starts: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        """The time loop; inputs are already checked."""

    # ------------------------------------------------------- optional hooks
    # A new core is one file: the run configuration, the video and the training diagnostics
    # call these hooks and never ask which class a core is. Override what applies.
    def settings(self) -> dict[str, object]:
        """The constructor's options beyond the sizes, so that ``type(core)(F, H, num_layers=L,
        **core.settings())`` rebuilds it: a run pins them in its configuration and saved model,
        which then reload as they trained whatever a later version's defaults. ``{}``: nothing to pin."""
        return {}

    def read_weights(self, x: torch.Tensor) -> torch.Tensor | None:
        """How much layer 0's memory read at the last step of the episode ``x`` (T, F), run from the
        empty memory, draws on each step's write: ``(heads, T)``, oldest step first (the video's
        memory panel draws Σ_heads |w|). ``None``: the core has no memory to show."""
        return None

    def memory_diagnostics(
        self, x: torch.Tensor, state: State | None = None, episode_starts: torch.Tensor | None = None
    ) -> dict[str, float]:
        """Figures that say whether the core uses its memory on a batch of sequences (T, B, F),
        keyed ``"<name>/<layer>"``; logged under ``memory/`` while training. ``{}``: none."""
        return {}


def reset_state(state: State, keep: torch.Tensor) -> State:
    """Zero the state of examples where ``keep`` (B,) is 0."""
    return tuple(s * keep.view(1, -1, *([1] * (s.dim() - 2))) for s in state)


def run_in_segments(
    step: Callable[[torch.Tensor, State], tuple[torch.Tensor, State]],
    x: torch.Tensor,
    state: State,
    episode_starts: torch.Tensor | None,
) -> tuple[torch.Tensor, State]:
    """Run a fused sequence kernel between the time steps where some example restarts.

    ``step(x_segment, state)`` runs a reset-free segment (e.g. one ``nn.LSTM`` call). The
    sequence is cut only at the distinct times where any episode starts, so a batch with no
    resets costs one kernel call, not T.
    """
    if episode_starts is None:
        return step(x, state)
    if x.shape[0] == 1:  # one step (a rollout's): no cut to find
        return step(x, reset_state(state, 1.0 - episode_starts[0]))
    cuts = torch.nonzero(episode_starts.any(dim=1)).flatten().tolist()
    bounds = sorted(set([0, *cuts, x.shape[0]]))
    outputs = []
    for begin, end in itertools.pairwise(bounds):
        state = reset_state(state, 1.0 - episode_starts[begin])
        y, state = step(x[begin:end], state)
        outputs.append(y)
    return (outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=0)), state


# torch's fused single-step cells, by nn.RNNBase mode
_CELLS = {"LSTM": torch.lstm_cell, "GRU": torch.gru_cell, "RNN_RELU": torch.rnn_relu_cell,
          "RNN_TANH": torch.rnn_tanh_cell}  # fmt: skip


def run_rnn(rnn: nn.RNNBase, x: torch.Tensor, state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> tuple:
    """``rnn(x, state)`` for a torch RNN, LSTM or GRU; a single step (T = 1) of a plain one runs its
    fused cell layer by layer instead — the same equations and numbers without the per-call set-up of
    the multi-step kernel, which is most of its cost at T = 1 (every env step of a rollout calls a
    core with T = 1, once for the actor and once for the critic)."""
    plain = rnn.bias and not rnn.bidirectional and not rnn.batch_first and not getattr(rnn, "proj_size", 0)
    if x.shape[0] != 1 or rnn.mode not in _CELLS or not plain:
        return rnn(x, state)
    cell, lstm = _CELLS[rnn.mode], rnn.mode == "LSTM"
    h0, c0 = state if lstm else (state, None)
    inp, hs, cs = x[0], [], []
    for layer in range(rnn.num_layers):
        if layer > 0 and rnn.dropout and rnn.training:
            inp = nn.functional.dropout(inp, rnn.dropout, training=True)
        weights = [getattr(rnn, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if lstm:
            inp, c = cell(inp, (h0[layer], c0[layer]), *weights)
            cs.append(c)
        else:
            inp = cell(inp, h0[layer], *weights)
        hs.append(inp)
    h_n = stack_layers(hs)
    return inp[None], ((h_n, stack_layers(cs)) if lstm else h_n)


def stack_layers(per_layer: list[torch.Tensor]) -> torch.Tensor:
    """The layers' states as one (L, …) tensor (a view, not a copy, when there is one layer)."""
    return per_layer[0][None] if len(per_layer) == 1 else torch.stack(per_layer)


# Where a core with compiled kernels runs them: "numba" always, "auto" on the CPU, "torch" never.
BACKENDS = ("auto", "numba", "torch")


def use_numba(backend: str, like: torch.Tensor) -> bool:
    """Whether a core with this ``backend`` runs its compiled kernels on ``like``'s device:
    ``"numba"`` always, ``"auto"`` on the CPU, ``"torch"`` never."""
    return backend == "numba" or (backend == "auto" and like.device.type == "cpu")


def _check_backend(backend: object) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def _check_dropout(dropout: object) -> None:
    if not isinstance(dropout, (int, float)) or not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")


def set_forget_bias(lstm: nn.LSTM, value: float | None) -> None:
    """Start every layer's forget gate at bias ``value`` (``bias_ih``'s forget rows set to it,
    ``bias_hh``'s to 0), as Gers et al. (2000) and Jozefowicz et al. (2015) advise: with torch's
    init (uniform in ±1/√H, about 0) the gate starts near ½ and the cell halves what it holds at
    every step. ``None`` keeps torch's init."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"forget_bias must be a number or None, got {value!r}")
    hidden = lstm.hidden_size
    with torch.no_grad():
        for layer in range(lstm.num_layers):
            getattr(lstm, f"bias_ih_l{layer}")[hidden : 2 * hidden] = float(value)
            getattr(lstm, f"bias_hh_l{layer}")[hidden : 2 * hidden] = 0.0


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


# ------------------------------------------------------------------ registry
_REGISTRY: dict[str, Callable[..., RecurrentCore]] = {}


def register_core(name: str) -> Callable[[type[RecurrentCore]], type[RecurrentCore]]:
    """Class decorator: make a core available to :func:`make_core` under ``name``."""

    def decorator(cls: type[RecurrentCore]) -> type[RecurrentCore]:
        if name in ALIASES or (name in _REGISTRY and _REGISTRY[name] is not cls):
            raise ValueError(f"a core named {name!r} is already registered")
        _REGISTRY[name] = cls
        return cls

    return decorator


# A registered name means one model for good. An alias names whichever core plays a role: "fw" is
# the package's default fast-weight core. Tables, run folders, leaderboards and saved
# configurations record the permanent name (core_name), never the alias.
ALIASES = {"fw": "fw-lstm"}
DEFAULT_CORE = "fw"


def core_name(name: str) -> str:
    """The permanent name of a core: an alias resolved (``"fw"`` → ``"fw-lstm"``), others as given."""
    return ALIASES.get(name, name)


def available_cores() -> list[str]:
    """Names accepted by :func:`make_core`: the registered cores and the aliases."""
    return sorted([*_REGISTRY, *ALIASES])


def make_core(name: str, input_size: int, hidden_size: int, **kwargs: object) -> RecurrentCore:
    """Build a registered core by name or alias, e.g. ``make_core("fw-rnn", 32, 64, decay=0.9)``."""
    permanent = core_name(name)
    if permanent not in _REGISTRY:
        close = difflib.get_close_matches(name, available_cores(), n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown core {name!r}; known cores: {', '.join(available_cores())}.{hint}")
    return _REGISTRY[permanent](input_size, hidden_size, **kwargs)
