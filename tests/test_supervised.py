"""The paper's supervised tasks: data generators, models and their CLIs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fw_agents.supervised import assoc
from fw_agents.supervised.models import SequenceClassifier, fit
from train import assoc as assoc_cli
from train._cli import run_cli


def test_assoc_format_matches_the_paper():
    tokens, targets = assoc.generate(500, num_pairs=4, seed=0)
    assert tokens.shape == (500, 11) and targets.shape == (500,)
    assert len(assoc.VOCAB) == 37
    for row, target in zip(tokens, targets, strict=True):
        text = assoc.decode(row)
        keys, values = text[0:8:2], text[1:8:2]
        assert len(set(keys)) == 4 and keys.isalpha() and values.isdigit()
        assert text[8:10] == "??" and text[10] in keys
        assert assoc.answer(text) == target  # the answer is always recoverable from the sequence
    assert assoc.answer("c9k8j3f1??c") == 9


def test_assoc_splits_are_deterministic_and_distinct():
    a, _ = assoc.split("valid", seed=3)
    b, _ = assoc.split("valid", seed=3)
    c, _ = assoc.split("test", seed=3, size=10_000)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == (assoc.SPLITS["valid"], 11)
    with pytest.raises(ValueError, match="num_pairs"):
        assoc.generate(3, num_pairs=27)


@pytest.mark.parametrize("core", ["fw", "lstm", "irnn", "alstm"])
def test_classifier_shapes(core):
    model = SequenceClassifier(core, 37, 20, 10, tokens=True)
    assert model(torch.zeros(5, 11, dtype=torch.long)).shape == (5, 10)


def test_tiny_fast_weight_model_learns_two_pair_retrieval():
    """K = 2: chance is 90% error; a small fast-weight model gets well below it in seconds."""
    torch.manual_seed(0)
    data = {name: assoc.to_tensors(*assoc.split(name, num_pairs=2, size=4000)) for name in assoc.SPLITS}
    model = SequenceClassifier("fw", 37, 32, 10, tokens=True, embed_dim=32, readout_hidden=32, form="attention")
    result = fit(model, data["train"], data["valid"], data["test"], epochs=6, batch_size=64, lr=3e-3, eval_every=100)
    assert result.test_error < 0.6


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--core", "transformer"], "unknown core 'transformer'"),
        (["--core", "lstm", "--inner-steps", "2"], "--inner-steps only apply to --core fw"),
        (["--hidden", "0"], "must be positive"),
        (["--num-pairs", "30"], "num_pairs"),
    ],
)
def test_assoc_cli_bad_input(argv, message, capsys):
    assert run_cli(assoc_cli.main, argv) == 2
    assert message in capsys.readouterr().err


def test_assoc_cli_runs_and_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["--core", "fw", "--hidden", "8", "--epochs", "0.2", "--train-size", "2000", "--json", str(out)]
    assert run_cli(assoc_cli.main, argv) == 0
    assert "test error" in capsys.readouterr().out
    import json

    figures = json.loads(out.read_text())
    assert 0.0 <= figures["test_error"] <= 1.0 and figures["curve"]


# ------------------------------------------------------------------ glimpses
from fw_agents.supervised import glimpses  # noqa: E402
from train import glimpses as glimpses_cli  # noqa: E402


def test_glimpse_schedule_shapes_and_coverage():
    assert len(glimpses.SCHEDULE) == 24
    images = torch.rand(3, 28, 28)
    seq = glimpses.glimpse_sequence(images)
    assert seq.shape == (3, 24, glimpses.FEATURES)
    covered = torch.zeros(28, 28, dtype=torch.bool)
    for step, (scale, top, left) in enumerate(glimpses.SCHEDULE):
        if scale == "fine":
            torch.testing.assert_close(seq[:, step, :49], images[:, top : top + 7, left : left + 7].reshape(3, 49))
            covered[top : top + 7, left : left + 7] = True
            assert seq[0, step, 49] == 0
        else:  # coarse: the 14×14 quadrant at half resolution
            expected = images[:, top : top + 14, left : left + 14].reshape(3, 7, 2, 7, 2).mean((2, 4))
            torch.testing.assert_close(seq[:, step, :49], expected.reshape(3, 49))
            assert seq[0, step, 49] == 1
    assert covered.all()
    with pytest.raises(ValueError, match="28, 28"):
        glimpses.glimpse_sequence(torch.zeros(2, 8, 8))


@pytest.mark.parametrize("compressed", [False, True])
def test_idx_round_trip_and_mnist_loader(tmp_path, compressed):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(70, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=70, dtype=np.uint8)
    suffix = ".gz" if compressed else ""
    for key, stem in glimpses.MNIST_FILES.items():
        glimpses.write_idx(tmp_path / (stem + suffix), images if "images" in key else labels)
    np.testing.assert_array_equal(glimpses.read_idx(tmp_path / ("train-images-idx3-ubyte" + suffix)), images)
    data = glimpses.load_mnist(tmp_path)
    train_x, train_y = data["train"]
    valid_x, _ = data["valid"]
    assert train_x.shape[1:] == (28, 28) and len(train_x) + len(valid_x) == 70
    assert float(train_x.max()) <= 1.0 and train_y.dtype == torch.int64
    torch.testing.assert_close(data["test"][0][0], torch.as_tensor(images[0] / 255.0, dtype=torch.float32))


def test_corrupt_idx_is_rejected(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        glimpses.read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 3)
    with pytest.raises(ValueError, match="expected 10 values"):
        glimpses.read_idx(short)


def test_digits_fallback_needs_no_files():
    data = glimpses.load_digits_upscaled()
    assert data["train"][0].shape == (1297, 28, 28) and len(data["test"][0]) == 300


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--core", "transformer"], "unknown core 'transformer'"),
        (["--mnist-dir", "/nonexistent/mnist"], "does not exist"),
    ],
)
def test_glimpse_cli_bad_input(argv, message, capsys):
    assert run_cli(glimpses_cli.main, argv) == 2
    assert message in capsys.readouterr().err


def test_glimpse_cli_reads_a_small_mnist_folder(tmp_path, capsys):
    rng = np.random.default_rng(1)
    for key, stem in glimpses.MNIST_FILES.items():
        shape = (120, 28, 28) if "images" in key else (120,)
        glimpses.write_idx(tmp_path / stem, rng.integers(0, 10 if "labels" in key else 256, size=shape))
    out = tmp_path / "g.json"
    argv = ["--core", "fw", "--hidden", "8", "--epochs", "1", "--mnist-dir", str(tmp_path), "--json", str(out)]
    assert run_cli(glimpses_cli.main, argv) == 0
    assert "on MNIST" in capsys.readouterr().out and out.exists()
