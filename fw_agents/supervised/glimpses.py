"""Multi-level glimpses (Ba et al. 2016, section 4.2) and the image data they read.

The paper shows a recurrent model an image as a sequence of 24 small 7×7 glimpses at two
scales and classifies after the last one. The paper's exact schedule is not confirmed, so
this module fixes one and documents it (``SCHEDULE``): for each quadrant of the 28×28 image,
in reading order,

1. one **coarse** glimpse: the 14×14 quadrant average-pooled to 7×7 (half resolution),
2. four **fine** glimpses: the quadrant's four 7×7 patches at full resolution,
3. one **fine** glimpse centred in the quadrant (rows and columns 3…9 of it).

That is 4 × 6 = 24 glimpses; the fine ones tile every pixel. Each step's input is the 49
pixels, a scale flag (0 fine, 1 coarse) and the glimpse centre (row, column) scaled to [0, 1]:
52 features.

Data: any 28×28 data set in MNIST's IDX format from a folder the user names (nothing is
downloaded) — MNIST itself, or Fashion-MNIST (Debian: ``apt-get install dataset-fashion-mnist``
puts it in ``/usr/share/datasets/fashion-mnist``) — named by the user or recognised from its
images (:func:`load_dataset`); or, needing no files, scikit-learn's bundled 8×8 handwritten
digits, upscaled to 28×28. Only MNIST is comparable with the paper's table.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fw_agents.errors import UsageError

GLIMPSE = 7
FEATURES = GLIMPSE * GLIMPSE + 3
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _schedule() -> list[tuple[str, int, int]]:
    """(scale, top, left) of each glimpse in image pixels; coarse glimpses cover 14×14."""
    out = []
    for q_top, q_left in ((0, 0), (0, 14), (14, 0), (14, 14)):
        out.append(("coarse", q_top, q_left))
        for dr, dc in ((0, 0), (0, 7), (7, 0), (7, 7)):
            out.append(("fine", q_top + dr, q_left + dc))
        out.append(("fine", q_top + 3, q_left + 3))
    return out


SCHEDULE = _schedule()


def glimpse_sequence(images: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) images in [0, 1] → (N, 24, 52) glimpse inputs, per ``SCHEDULE``."""
    if images.dim() != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (N, 28, 28), got {tuple(images.shape)}")
    pooled = F.avg_pool2d(images.unsqueeze(1), 2).squeeze(1)  # (N, 14, 14)
    steps = []
    for scale, top, left in SCHEDULE:
        if scale == "coarse":
            patch = pooled[:, top // 2 : top // 2 + GLIMPSE, left // 2 : left // 2 + GLIMPSE]
            size = 2 * GLIMPSE
        else:
            patch = images[:, top : top + GLIMPSE, left : left + GLIMPSE]
            size = GLIMPSE
        centre = ((top + size / 2) / 28, (left + size / 2) / 28)
        extra = torch.tensor([1.0 if scale == "coarse" else 0.0, *centre], dtype=images.dtype)
        steps.append(torch.cat([patch.reshape(len(images), -1), extra.expand(len(images), 3)], dim=1))
    return torch.stack(steps, dim=1)


# ------------------------------------------------------------------ data
def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): the format MNIST is distributed in."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype_code, ndim = data[2], data[3]
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if dtype_code not in dtypes:
        raise ValueError(f"{path}: unknown IDX data type 0x{dtype_code:02x}")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=dtypes[dtype_code], offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {int(np.prod(shape))} values for shape {shape}, found {array.size}")
    return array.reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped when the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"IDX file {stem} (or {stem}.gz) not found in {folder}")


def load_idx_folder(folder: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """A data set in MNIST's format from the four standard IDX files in ``folder``: train (last
    10,000 held out as validation), valid and test, images as float (N, 28, 28) in [0, 1]."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    arrays = {key: read_idx(_find(folder, stem)) for key, stem in IDX_FILES.items()}
    train_x = torch.as_tensor(arrays["train_images"].astype(np.float32) / 255.0)
    train_y = torch.as_tensor(arrays["train_labels"].astype(np.int64))
    test_x = torch.as_tensor(arrays["test_images"].astype(np.float32) / 255.0)
    test_y = torch.as_tensor(arrays["test_labels"].astype(np.int64))
    n_valid = min(10_000, len(train_x) // 6)
    return {
        "train": (train_x[:-n_valid], train_y[:-n_valid]),
        "valid": (train_x[-n_valid:], train_y[-n_valid:]),
        "test": (test_x, test_y),
    }


# Mean training-image intensity of the data sets this module recognises (pixels / 255).
KNOWN_MEANS = {"MNIST": 0.1307, "Fashion-MNIST": 0.2860}
DEFAULT_DIRS = {"Fashion-MNIST": Path("/usr/share/datasets/fashion-mnist")}  # Debian's dataset-fashion-mnist
DIGITS = "scikit-learn digits upscaled to 28×28"


def recognise(images: torch.Tensor) -> str | None:
    """``"MNIST"`` or ``"Fashion-MNIST"`` if the images' mean intensity is that data set's, else None."""
    mean = float(images.mean())
    for name, known in KNOWN_MEANS.items():
        if abs(mean - known) < 0.005:
            return name
    return None


def load_dataset(
    folder: Path | None, name: str | None = None, seed: int = 0
) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], str]:
    """The data and the name every printed line should carry.

    ``folder``: an IDX folder; ``None`` with ``name="Fashion-MNIST"`` reads Debian's folder;
    ``None`` otherwise: scikit-learn's upscaled digits. ``name``: the data set's name (default:
    recognised from the images, else "IDX data set in <folder>").
    """
    if folder is None and name in DEFAULT_DIRS:
        folder = DEFAULT_DIRS[name]
        if not folder.is_dir():
            raise FileNotFoundError(f"{name}: {folder} does not exist (Debian: apt-get install dataset-fashion-mnist)")
    if folder is None:
        if name is not None:
            raise FileNotFoundError(f"data set {name!r} needs --data-dir (the folder of its IDX files)")
        return load_digits_upscaled(seed), DIGITS
    data = load_idx_folder(Path(folder).expanduser())
    if name is None:
        train = torch.cat([data["train"][0], data["valid"][0]])
        name = recognise(train) or f"IDX data set in {folder}"
    return data, name


def load_digits_upscaled(seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """scikit-learn's 1,797 bundled 8×8 digits, bilinearly upscaled to 28×28 (1,297 train,
    200 validation, 300 test, shuffled by ``seed``). Not MNIST: not comparable with the paper."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise UsageError(
            "the no-files digits data set needs scikit-learn: pip install -e '.[digits]' "
            "(or give --data-dir with Fashion-MNIST/MNIST IDX files)"
        ) from err

    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=torch.float32) / 16.0
    images = F.interpolate(images.unsqueeze(1), size=(28, 28), mode="bilinear", align_corners=False).squeeze(1)
    labels = torch.as_tensor(digits.target, dtype=torch.int64)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    images, labels = images[order], labels[order]
    return {
        "train": (images[:1297], labels[:1297]),
        "valid": (images[1297:1497], labels[1297:1497]),
        "test": (images[1497:], labels[1497:]),
    }


class ConvNet(nn.Module):
    """The paper's feed-forward reference: two 5×5 conv layers (32, 64) with max-pooling and a
    fully connected layer of ``hidden`` ReLU units, on the whole image."""

    def __init__(self, hidden: int, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Linear(64 * 7 * 7, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images.unsqueeze(1)))
