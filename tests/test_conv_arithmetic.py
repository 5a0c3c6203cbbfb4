"""Notebook 01's output-size formulas against the real layers, on a whole grid of configurations.

The notebook shows one compact proof (a few configurations of each kind); this is the long verification a
learner need not read: every combination of input sizes, kernels, strides, paddings and dilations through
PyTorch's ``conv2d`` and ``max_pool2d`` (floor and ceil mode), PyTorch's ``padding="same"``, and TensorFlow's
``conv2d`` and ``max_pool2d`` with ``SAME`` and ``VALID``. Where a framework refuses because the kernel does
not fit, the formula must say 0. The formulas are taken from the notebook's own cells.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_cnn_from_scratch.ipynb"
FORMULAS = ("conv_output_size", "pool_output_size", "tf_output_size", "tf_same_padding")
SIZES, KERNELS, STRIDES, PADDINGS, DILATIONS = (5, 6, 7, 28), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2)


def notebook_formulas() -> dict:
    """The namespace after running the notebook's cells that define the output-size formulas."""
    namespace: dict = {}
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    for cell in cells:
        if cell.cell_type == "code" and any(f"def {name}(" in cell.source for name in FORMULAS):
            exec(compile(cell.source, f"<{NOTEBOOK.name}>", "exec"), namespace)
    missing = [name for name in FORMULAS if name not in namespace]
    assert not missing, f"no cell of {NOTEBOOK.name} defines {missing}"
    return namespace


def _torch_len(fn, *args, **kwargs) -> int:
    try:
        return fn(*args, **kwargs).shape[-1]
    except RuntimeError:  # the output would be empty
        return 0


def test_torch_conv_and_pool_sizes_on_the_grid():
    f = notebook_formulas()
    checked = 0
    for n, k, s, p, d in itertools.product(SIZES, KERNELS, STRIDES, PADDINGS, DILATIONS):  # NCHW
        x, w = torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k)
        got = _torch_len(F.conv2d, x, w, stride=s, padding=p, dilation=d)
        assert got == f["conv_output_size"](n, k, s, p, d), (n, k, s, p, d)
        if 2 * p <= k:  # PyTorch pooling allows padding up to half the kernel
            for ceil_mode in (False, True):
                got = _torch_len(F.max_pool2d, x, k, s, p, d, ceil_mode=ceil_mode)
                assert got == f["pool_output_size"](n, k, s, p, d, ceil_mode), (n, k, s, p, d, ceil_mode)
        checked += 1
    assert checked == 288


def test_torch_padding_same_keeps_the_size():
    for n, k, d in itertools.product(SIZES, KERNELS, DILATIONS):
        with warnings.catch_warnings():  # PyTorch notes that even kernels need an extra padded copy
            warnings.simplefilter("ignore", UserWarning)
            y = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), padding="same", dilation=d)
        assert y.shape[-1] == n


def _tf_grid() -> int:
    """TensorFlow's conv2d and max_pool2d (NHWC) against the formulas; returns the number of configurations."""
    import tensorflow as tf

    f = notebook_formulas()

    def tf_len(fn, *args, **kwargs) -> int:
        try:
            return fn(*args, **kwargs).shape[1]  # NHWC: height is axis 1
        except tf.errors.InvalidArgumentError:  # the output would be empty
            return 0

    checked = 0
    for n, k, s, d, padding in itertools.product(SIZES, KERNELS, STRIDES, DILATIONS, ("SAME", "VALID")):
        x, w = tf.zeros((1, n, n, 1)), tf.zeros((k, k, 1, 1))
        got = tf_len(tf.nn.conv2d, x, w, strides=s, padding=padding, dilations=d)
        assert got == f["tf_output_size"](n, k, s, padding, d), (n, k, s, d, padding)
        if d == 1:
            got = tf_len(tf.nn.max_pool2d, x, k, s, padding)
            assert got == f["tf_output_size"](n, k, s, padding), (n, k, s, padding)
            if padding == "SAME":  # SAME pads (before, after) so that the output has ceil(n / s) positions
                before, after = f["tf_same_padding"](n, k, s)
                explicit = tf.nn.conv2d(x, w, strides=s, padding=[[0, 0], [before, after], [0, 0], [0, 0]])
                assert explicit.shape[1] == got
        checked += 1
    return checked


@pytest.mark.slow
def test_tensorflow_sizes_on_the_grid():
    """In a fresh interpreter: oneDNN must be off before TensorFlow loads (on some CPUs its dilated, strided
    convolution returns a wrong, non-empty shape where the kernel does not fit), and another test may
    already have imported TensorFlow with it on."""
    pytest.importorskip("tensorflow")
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    code = "from tests.test_conv_arithmetic import _tf_grid; print(_tf_grid())"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "192"
