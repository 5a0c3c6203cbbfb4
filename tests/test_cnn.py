"""course_utils.cnn: output sizes, NumPy conv/pool against PyTorch (and TF, marked slow), counting."""

from __future__ import annotations

import itertools
import os
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils import cnn
from course_utils.models import Net

SIZES, KERNELS, STRIDES, PADS, DILATIONS = (1, 4, 5, 6, 7, 12), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2, 3)


def _torch_len(fn, *args, **kw) -> int:
    try:
        return fn(*args, **kw).shape[-1]
    except RuntimeError:  # PyTorch refuses outputs of size < 1
        return 0


def test_conv_output_size_matches_torch_on_a_grid():
    for n, k, s, p, d in itertools.product(SIZES, KERNELS, STRIDES, PADS, DILATIONS):
        got = _torch_len(F.conv2d, torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
        assert cnn.conv_output_size(n, k, s, p, d) == got, (n, k, s, p, d)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_output_size_matches_torch_on_a_grid(ceil_mode):
    for n, k, s, p, d in itertools.product(SIZES, KERNELS, STRIDES, PADS, DILATIONS):
        if p > k // 2:  # PyTorch: padding must be at most half the kernel
            continue
        got = _torch_len(F.max_pool2d, torch.zeros(1, 1, n, n), k, s, p, d, ceil_mode=ceil_mode)
        assert cnn.pool_output_size(n, k, s, p, d, ceil_mode) == got, (n, k, s, p, d, ceil_mode)


def test_pool_stride_defaults_to_kernel():
    assert cnn.pool_output_size(28, 2) == 14 and cnn.pool_output_size(7, 2) == 3
    assert cnn.pool_output_size(7, 2, ceil_mode=True) == 4


def test_known_values():
    assert cnn.conv_output_size(28, 5) == 24
    assert cnn.conv_output_size(28, 3, 2, 1) == 14
    assert cnn.conv_output_size(5, 3, d=3) == 0  # dilated kernel 7 > 5
    assert cnn.tf_output_size(7, 3, 2, "SAME") == 4
    assert cnn.tf_output_size(7, 3, 2, "VALID") == 3
    assert cnn.tf_same_padding(7, 3, 2) == (1, 1)
    assert cnn.tf_same_padding(8, 3, 2) == (0, 1)  # the odd pixel goes after (bottom/right)
    assert cnn.tf_same_padding(8, 1, 2) == (0, 0)
    assert cnn.torch_same_padding(4) == (1, 2)
    with pytest.raises(ValueError):
        cnn.tf_output_size(5, 3, 1, "FULL")


def test_tf_same_padding_gives_ceil_size():
    for n, k, s, d in itertools.product(SIZES, KERNELS, STRIDES, DILATIONS):
        before, after = cnn.tf_same_padding(n, k, s, d)
        assert 0 <= after - before <= 1
        span = d * (k - 1) + 1
        assert (n + before + after - span) // s + 1 == cnn.tf_output_size(n, k, s, "SAME", d) == -(-n // s)


def test_resolve_padding_forms():
    args = ((6, 6), (3, 3), (1, 1), (1, 1))
    assert cnn.resolve_padding(2, *args) == ((2, 2), (2, 2))
    assert cnn.resolve_padding((1, 2), *args) == ((1, 1), (2, 2))
    assert cnn.resolve_padding(((0, 1), (2, 3)), *args) == ((0, 1), (2, 3))
    assert cnn.resolve_padding("valid", *args) == ((0, 0), (0, 0))
    assert cnn.resolve_padding("SAME", *args) == ((1, 1), (1, 1))
    with pytest.raises(ValueError):
        cnn.resolve_padding("full", *args)


@pytest.mark.parametrize("s,p,d", [(1, 0, 1), (2, 1, 1), (1, 2, 2), (3, 1, 2), (2, (0, 2), 1)])
def test_numpy_conv2d_equals_torch(s, p, d):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 11, 10)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    ref = F.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=s, padding=p, dilation=d).numpy()
    np.testing.assert_allclose(cnn.conv2d(x, w, b, s, p, d), ref, atol=1e-12)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_numpy_same_equals_torch_same_at_stride_1(k):
    rng = np.random.default_rng(k)
    x, w = rng.standard_normal((1, 2, 9, 9)), rng.standard_normal((3, 2, k, k))
    with warnings.catch_warnings():  # PyTorch warns that even kernels need a padded copy; not what we test
        warnings.simplefilter("ignore")
        ref = F.conv2d(torch.tensor(x), torch.tensor(w), padding="same").numpy()
    np.testing.assert_allclose(cnn.conv2d(x, w, padding="same"), ref, atol=1e-12)


@pytest.mark.parametrize("k,s,p,d", [(2, None, 0, 1), (3, 2, 1, 1), (3, 1, 1, 2), (2, 1, 0, 1)])
def test_numpy_max_pool_equals_torch(k, s, p, d):
    x = np.random.default_rng(1).standard_normal((2, 3, 9, 8))
    ref = F.max_pool2d(torch.tensor(x), k, s, p, d).numpy()
    np.testing.assert_array_equal(cnn.max_pool2d(x, k, s, p, d), ref)


def test_conv2d_rejects_bad_shapes():
    with pytest.raises(ValueError):
        cnn.conv2d(np.zeros((1, 2, 5, 5)), np.zeros((1, 3, 3, 3)))
    with pytest.raises(ValueError):
        cnn.conv2d(np.zeros((2, 5, 5)), np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError):
        cnn.conv2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)))


def test_layout_helpers_round_trip():
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    assert cnn.nchw_to_nhwc(x).shape == (2, 4, 5, 3)
    np.testing.assert_array_equal(cnn.nhwc_to_nchw(cnn.nchw_to_nhwc(x)), x)
    assert cnn.oihw_to_hwio(np.zeros((8, 3, 5, 4))).shape == (5, 4, 3, 8)


def test_window_indices_and_receptive_field():
    assert cnn.window_indices(0, 3, 1, 1) == [-1, 0, 1]
    assert cnn.window_indices(2, 3, 2, 0, 2) == [4, 6, 8]
    # the article's Net: conv5 -> pool2 -> conv5 -> pool2
    assert cnn.receptive_field([(5, 1), (2, 2), (5, 1), (2, 2)]) == [(5, 1), (6, 2), (14, 2), (16, 4)]
    assert cnn.receptive_field([(3, 1, 2)]) == [(5, 1)]


def test_receptive_field_equals_gradient_support():
    """An output cell's gradient w.r.t. the input is non-zero exactly on its receptive field."""
    layers = [(3, 2, 1), (3, 1, 2), (2, 2, 1)]
    x = torch.ones(1, 1, 40, 40, requires_grad=True)
    y = x
    for k, s, d in layers:
        y = F.conv2d(y, torch.ones(1, 1, k, k), stride=s, dilation=d)
    y[0, 0, 2, 2].backward()
    rows = torch.nonzero(x.grad[0, 0].sum(1)).flatten()
    assert int(rows.max() - rows.min() + 1) == cnn.receptive_field(layers)[-1][0]


def test_count_layers_of_net():
    rows = cnn.count_layers(Net(), (1, 1, 28, 28))
    by = {r.name: r for r in rows}
    assert by["conv1"].params == cnn.conv2d_params(1, 10, 5) == 260
    assert by["conv1"].macs == cnn.conv2d_macs(1, 10, 5, 24, 24) == 144_000
    assert by["conv2"].out_shape == (20, 8, 8) and by["conv2"].macs == 320_000
    assert by["fc1"].params == cnn.linear_params(320, 50) and by["fc1"].macs == cnn.linear_macs(320, 50)
    assert sum(r.params for r in rows) == sum(p.numel() for p in Net().parameters()) == 21_840
    assert sum(r.macs for r in rows) == 480_500
    table = cnn.format_counts(rows)
    assert "21,840" in table and "480,500" in table


def test_params_with_groups_and_no_bias():
    conv = torch.nn.Conv2d(8, 16, 3, groups=4, bias=False)
    assert cnn.conv2d_params(8, 16, 3, bias=False, groups=4) == sum(p.numel() for p in conv.parameters())


def test_show_maps_returns_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = cnn.show_maps([np.eye(3)] * 5, titles=list("abcde"), ncols=3, suptitle="t")
    assert len(fig.axes) == 6
    plt.close(fig)


@pytest.mark.slow
def test_numpy_conv_and_pool_equal_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 3, 10, 9)).astype(np.float32), rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    for s, d, pad in itertools.product((1, 2), (1, 2), ("SAME", "VALID")):
        ref = tf.nn.conv2d(cnn.nchw_to_nhwc(x), cnn.oihw_to_hwio(w), strides=s, padding=pad, dilations=d).numpy()
        ours = cnn.conv2d(x.astype(np.float64), w.astype(np.float64), stride=s, padding=pad.lower(), dilation=d)
        np.testing.assert_allclose(cnn.nchw_to_nhwc(ours), ref, atol=1e-5)
        assert ref.shape[1] == cnn.tf_output_size(10, 3, s, pad, d)
    for k, s, pad in itertools.product((2, 3), (1, 2), ("SAME", "VALID")):
        ref = tf.nn.max_pool2d(cnn.nchw_to_nhwc(x), k, s, pad).numpy()
        np.testing.assert_array_equal(cnn.nchw_to_nhwc(cnn.max_pool2d(x, k, s, pad.lower())), ref)
