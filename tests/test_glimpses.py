"""The paper's glimpse task: schedule, IDX data, train.glimpses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fw_agents.supervised import glimpses
from train import glimpses as glimpses_cli
from train._cli import run_cli


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
