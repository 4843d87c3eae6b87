"""Small image data sets for the chapters, read from disk only: nothing here downloads.

* :func:`load_digits`: the 1,797 8×8 handwritten digits that scikit-learn also bundles, shipped
  in this package (no scikit-learn needed), the default data of the chapters.
* :func:`load_mnist`: the real MNIST files (IDX format, optionally gzipped) for readers who have
  them; fetching them is left to the reader.
* :func:`split_indices`: a seeded random train/test split of ``n`` samples.

Used by: Capsules as K-Means (kexue.fm/archives/5112); VAE, the information bottleneck and the
normal distribution (kexue.fm/archives/6181).
"""

import gzip
from importlib import resources
from pathlib import Path

import numpy as np
import torch

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_IMAGES, _IDX_LABELS = 2051, 2049  # magic numbers: unsigned bytes, 3 and 1 dimensions


def load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 8×8 handwritten digits as ``(images [1797, 8, 8] float32 in [0, 1], labels [1797] int64)``.

    The data ship inside the package (``companion/datasets/digits.npz``, the same arrays as
    ``sklearn.datasets.load_digits``; source and licence in ``datasets/SOURCE.md``: UCI, CC BY 4.0).
    The pixel values 0..16 are divided by 16.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112); also used by the VAE chapter.
    """
    with resources.files(__package__).joinpath("datasets", "digits.npz").open("rb") as file:
        with np.load(file) as arrays:
            images, labels = arrays["images"], arrays["labels"]
    return (torch.from_numpy(images.astype(np.float32) / 16.0),
            torch.from_numpy(labels.astype(np.int64)))


def split_indices(n: int, n_train: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random split of ``range(n)`` into ``(train [n_train], test [n - n_train])`` index tensors.

    The order is ``torch.randperm(n)`` drawn from a generator seeded with ``seed``: the first
    ``n_train`` indices train, the rest test. Both parts are disjoint and together cover
    ``range(n)``; the same seed gives the same split.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112); also used by the VAE chapter.
    """
    for name, value in (("n", n), ("n_train", n_train), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    if not 0 < n_train < n:
        raise ValueError(f"n_train must satisfy 0 < n_train < n = {n}, got {n_train}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed}")
    order = torch.randperm(int(n), generator=torch.Generator().manual_seed(int(seed)))
    return order[:n_train], order[n_train:]


def _read_idx(path: Path, magic: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path} is not an IDX file: only {len(data)} bytes")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(f"{path} has IDX magic number {found}, expected {magic} "
                         f"({'images' if magic == _IDX_IMAGES else 'labels'} of unsigned bytes)")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(f"{path} is truncated or padded: its header declares shape {shape} "
                         f"({expected} bytes in all), the file has {len(data)} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no {name} or {name}.gz in {folder}; download MNIST's four IDX files "
                            f"into that folder to use it (nothing here fetches them)")


def load_mnist(folder, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """The MNIST files in ``folder`` as ``(images [N, 28, 28] float32 in [0, 1], labels [N] int64)``.

    ``folder`` holds the original IDX files, plain or gzipped (``train-images-idx3-ubyte.gz``,
    ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``);
    ``split`` is ``"train"`` or ``"test"``. The headers are checked: a wrong magic number, a
    truncated file or image and label counts that differ raise ``ValueError``.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    if split not in MNIST_FILES:
        raise ValueError(f"unknown split {split!r}; known: 'train', 'test'")
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} does not exist or is not a directory")
    image_name, label_name = MNIST_FILES[split]
    images = _read_idx(_find(folder, image_name), _IDX_IMAGES)
    labels = _read_idx(_find(folder, label_name), _IDX_LABELS)
    if len(images) != len(labels):
        raise ValueError(f"{folder}: {len(images)} images but {len(labels)} labels in split {split!r}")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{folder}: MNIST labels must be digits 0..9, found {labels.max()}")
    return (torch.from_numpy(images.astype(np.float32) / 255.0),
            torch.from_numpy(labels.astype(np.int64)))
