"""The paper's glimpse task: schedule, IDX data, train.glimpses."""

from __future__ import annotations

import json

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
    for key, stem in glimpses.IDX_FILES.items():
        glimpses.write_idx(tmp_path / (stem + suffix), images if "images" in key else labels)
    np.testing.assert_array_equal(glimpses.read_idx(tmp_path / ("train-images-idx3-ubyte" + suffix)), images)
    data = glimpses.load_idx_folder(tmp_path)
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
        (["--dataset", "KMNIST"], "needs --data-dir"),
        (["--steps", "10", "--epochs", "1"], "--steps or --epochs, not both"),
        (["--steps", "0"], "--steps must be >= 1"),
    ],
)
def test_glimpse_cli_bad_input(argv, message, capsys):
    assert run_cli(glimpses_cli.main, argv) == 2
    assert message in capsys.readouterr().err


def _write_folder(folder, mean: float, n: int = 120) -> None:
    """Four IDX files whose images have about ``mean`` intensity (MNIST 0.13, Fashion-MNIST 0.29)."""
    rng = np.random.default_rng(1)
    for key, stem in glimpses.IDX_FILES.items():
        if "labels" in key:
            glimpses.write_idx(folder / stem, rng.integers(0, 10, size=n))
        else:
            glimpses.write_idx(folder / stem, (rng.random((n, 28, 28)) < mean) * 255)


@pytest.mark.parametrize(("mean", "flags", "label"), [
    (0.1307, [], "on MNIST:"),
    (0.2860, [], "on Fashion-MNIST:"),
    (0.5, [], "on IDX data set in"),
    (0.5, ["--dataset", "KMNIST"], "on KMNIST:"),
])  # fmt: skip
def test_glimpse_cli_names_the_data_set_it_read(tmp_path, capsys, mean, flags, label):
    _write_folder(tmp_path, mean)
    out = tmp_path / "g.json"
    argv = ["--core", "fw", "--hidden", "8", "--steps", "3", "--data-dir", str(tmp_path), "--json", str(out), *flags]
    assert run_cli(glimpses_cli.main, argv) == 0
    assert label in capsys.readouterr().out
    figures = json.loads(out.read_text())
    assert figures["steps"] == figures["steps_budget"] == 3 and figures["epochs"] is None
    assert figures["stopped_by_time"] is False
    assert label.removeprefix("on ").rstrip(":") in figures["dataset"]


def test_old_mnist_dir_flag_still_works(tmp_path, capsys):
    _write_folder(tmp_path, 0.1307)
    assert run_cli(glimpses_cli.main, ["--core", "lstm", "--hidden", "8", "--steps", "2", "--mnist-dir",
                                       str(tmp_path)]) == 0  # fmt: skip
    assert "on MNIST:" in capsys.readouterr().out


def test_equal_steps_budget_schedule_and_time_limit():
    from fw_agents.supervised.models import fit, learning_rate_factor

    factor = learning_rate_factor(total=100, warmup=10, schedule="cosine")
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(10) == pytest.approx(1.0) and factor(55) == pytest.approx(0.5) and factor(100) == pytest.approx(0.0)
    assert learning_rate_factor(100, 0)(50) == 1.0
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    model = torch.nn.Linear(4, 2)
    result = fit(model, (x, y), (x, y), (x, y), steps=7, batch_size=16, eval_every=3)
    assert result.steps == 7 and not result.stopped_by_time  # 7 updates, though an epoch is 4
    cut = fit(model, (x, y), (x, y), (x, y), steps=10_000, batch_size=16, time_limit=0.0)
    assert cut.steps == 1 and cut.stopped_by_time
    with pytest.raises(ValueError, match="exactly one budget"):
        fit(model, (x, y), (x, y), (x, y), steps=3, epochs=1)
