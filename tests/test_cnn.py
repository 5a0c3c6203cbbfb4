"""course_utils.cnn, the saved copy of notebook 01's output-size formula (the widget explorer imports it).

The rest of notebook 01's convolution (NumPy conv2d and max-pooling == PyTorch == TensorFlow) lives in the
notebook's cells and is proved by its asserts under nbval.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from course_utils import cnn


def _torch_len(n: int, k: int, s: int, p: int, d: int) -> int:
    try:
        return F.conv2d(
            torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d
        ).shape[-1]
    except RuntimeError:  # PyTorch refuses outputs of size < 1
        return 0


def test_conv_output_size_matches_torch_on_a_grid():
    grid = itertools.product((1, 4, 5, 6, 7, 12), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2, 3))
    for n, k, s, p, d in grid:
        assert cnn.conv_output_size(n, k, s, p, d) == _torch_len(n, k, s, p, d), (n, k, s, p, d)


def test_known_values():
    assert cnn.conv_output_size(28, 5) == 24
    assert cnn.conv_output_size(28, 3, 2, 1) == 14
    assert cnn.conv_output_size(5, 3, d=3) == 0  # the dilated kernel spans 7 > 5
