"""The digits ship inside the package and are exactly scikit-learn's."""

import numpy as np
import pytest
import torch

from companion import data


def test_bundled_digits_are_scikit_learns():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    reference = sklearn_datasets.load_digits()
    images, labels = data.load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == torch.float32
    assert labels.shape == (1797,) and labels.dtype == torch.int64
    np.testing.assert_array_equal(images.numpy() * 16, reference.images)
    np.testing.assert_array_equal(labels.numpy(), reference.target)


def test_digits_are_a_copy_per_call():
    first, _ = data.load_digits()
    first[0, 0, 0] = 99.0
    again, _ = data.load_digits()
    assert again[0, 0, 0] != 99.0
