"""Convolution from scratch: output-size arithmetic, NumPy conv2d / max-pool, receptive fields, counting.

Taught in notebook 01 (``01_cnn_from_scratch.ipynb``). Conventions:

* Arrays are **NCHW** (batch, channels, height, width) like PyTorch; weights are **OIHW**
  (out-channels, in-channels, kernel height, kernel width). TensorFlow uses NHWC inputs and HWIO
  weights: :func:`nchw_to_nhwc` / :func:`oihw_to_hwio` convert.
* "Convolution" in deep learning is **cross-correlation**: the kernel is not flipped.
* Padding is given as an int ``p`` (all sides), a pair ``(ph, pw)``, explicit
  ``((top, bottom), (left, right))``, or the strings ``"valid"`` (none) and ``"same"``
  (TensorFlow's rule: output ``ceil(n / s)``, the odd pixel of padding goes bottom/right; for stride 1
  this is also PyTorch's ``padding="same"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .plots import show_maps  # re-exported: notebook 01 calls it as cnn.show_maps

__all__ = [
    "conv_output_size",
    "pool_output_size",
    "tf_output_size",
    "tf_same_padding",
    "torch_same_padding",
    "resolve_padding",
    "conv2d",
    "max_pool2d",
    "nchw_to_nhwc",
    "nhwc_to_nchw",
    "oihw_to_hwio",
    "window_indices",
    "receptive_field",
    "conv2d_params",
    "conv2d_macs",
    "linear_params",
    "linear_macs",
    "LayerCount",
    "count_layers",
    "format_counts",
    "EDGE_KERNELS",
    "show_maps",
]

Pads = tuple[tuple[int, int], tuple[int, int]]


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    a, b = v
    return int(a), int(b)


# --------------------------------------------------------------------------- output-size arithmetic


def conv_output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Output length of a convolution: ``floor((n + 2p - d(k-1) - 1) / s) + 1`` (notebook 01).

    ``n`` input length, ``k`` kernel size, ``s`` stride, ``p`` padding on *each* side, ``d`` dilation.
    Returns 0 when the (dilated) kernel does not fit in the padded input.
    """
    span = d * (k - 1) + 1  # the dilated kernel's extent
    if n + 2 * p < span:
        return 0
    return (n + 2 * p - span) // s + 1


def pool_output_size(
    n: int, k: int, s: int | None = None, p: int = 0, d: int = 1, ceil_mode: bool = False
) -> int:
    """Output length of PyTorch-style pooling (stride defaults to ``k``), with ``ceil_mode`` (notebook 01).

    With ``ceil_mode=True`` the division rounds up (the last window may run past the padded input),
    but a window that would start inside the right padding is dropped (PyTorch's rule).
    """
    s = k if s is None else s
    num = n + 2 * p - (d * (k - 1) + 1)  # room left after the first window
    out = (num + (s - 1 if ceil_mode else 0)) // s + 1  # floor division, like PyTorch's div_rtn
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return max(out, 0)


def tf_output_size(n: int, k: int, s: int = 1, padding: str = "VALID", d: int = 1) -> int:
    """TensorFlow's output length: ``SAME`` gives ``ceil(n/s)``, ``VALID`` gives ``ceil((n - d(k-1)) / s)``.

    Taught in notebook 01. ``SAME`` pads just enough for that size (see :func:`tf_same_padding`).
    """
    padding = padding.upper()
    if padding == "SAME":
        return -(-n // s)
    if padding == "VALID":
        span = d * (k - 1) + 1
        return max(0, -(-(n - span + 1) // s))
    raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")


def tf_same_padding(n: int, k: int, s: int = 1, d: int = 1) -> tuple[int, int]:
    """TensorFlow ``SAME`` padding ``(before, after)`` along one axis; the extra pixel goes *after* (notebook 01).

    Total padding is ``max((ceil(n/s) - 1) * s + d(k-1) + 1 - n, 0)``, split ``total // 2`` before.
    """
    span = d * (k - 1) + 1
    total = max((-(-n // s) - 1) * s + span - n, 0)
    return total // 2, total - total // 2


def torch_same_padding(k: int, d: int = 1) -> tuple[int, int]:
    """PyTorch ``padding="same"`` (stride 1 only): total ``d(k-1)``, the extra pixel goes right (notebook 01)."""
    total = d * (k - 1)
    return total // 2, total - total // 2


def resolve_padding(
    padding: int | str | Sequence, hw: tuple[int, int], k: tuple[int, int], s: tuple[int, int], d: tuple[int, int]
) -> Pads:
    """Turn any padding spec into explicit ``((top, bottom), (left, right))``."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0, 0), (0, 0)
        if mode == "same":
            return tuple(tf_same_padding(hw[i], k[i], s[i], d[i]) for i in range(2))  # type: ignore[return-value]
        raise ValueError(f"padding string must be 'valid' or 'same', got {padding!r}")
    if isinstance(padding, (int, np.integer)):
        return (int(padding), int(padding)), (int(padding), int(padding))
    a, b = padding
    if isinstance(a, (int, np.integer)):
        return (int(a), int(a)), (int(b), int(b))
    return _pair(a), _pair(b)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- NumPy conv2d and pooling


def _windows(
    x: np.ndarray, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int]
) -> np.ndarray:
    """All (strided, dilated) windows of padded ``x`` [N,C,H,W] as a view [N,C,Ho,Wo,kh,kw]."""
    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    if x.shape[2] < span[0] or x.shape[3] < span[1]:
        raise ValueError(f"kernel extent {span} is larger than the padded input {x.shape[2:]}")
    win = np.lib.stride_tricks.sliding_window_view(x, span, axis=(2, 3))
    return win[:, :, :: s[0], :: s[1], :: d[0], :: d[1]]


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | str | Sequence = 0,
    dilation: int | Sequence[int] = 1,
) -> np.ndarray:
    """2-D cross-correlation of ``x`` [N,C,H,W] with ``w`` [O,C,kh,kw] (+ bias [O]) -> [N,O,Ho,Wo] (notebook 01).

    ``out[n, o, i, j] = b[o] + sum_{c, u, v} x_pad[n, c, i*s + u*d, j*s + v*d] * w[o, c, u, v]``.
    Matches ``torch.nn.functional.conv2d`` (and ``tf.nn.conv2d`` on NHWC data).
    """
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"expected x [N,C,H,W] and w [O,C,kh,kw], got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    k, s, d = (w.shape[2], w.shape[3]), _pair(stride), _pair(dilation)
    (t, bo), (le, r) = resolve_padding(padding, (x.shape[2], x.shape[3]), k, s, d)
    xp = np.pad(x, ((0, 0), (0, 0), (t, bo), (le, r)))
    out = np.einsum("nchwuv,ocuv->nohw", _windows(xp, k, s, d), w, optimize=True)
    if b is not None:
        out = out + np.asarray(b)[None, :, None, None]
    return out


def max_pool2d(
    x: np.ndarray,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | str | Sequence = 0,
    dilation: int | Sequence[int] = 1,
) -> np.ndarray:
    """Max-pooling of ``x`` [N,C,H,W]; stride defaults to the kernel size; padding counts as ``-inf`` (notebook 01)."""
    x = np.asarray(x)
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    d = _pair(dilation)
    (t, bo), (le, r) = resolve_padding(padding, (x.shape[2], x.shape[3]), k, s, d)
    xp = np.pad(x, ((0, 0), (0, 0), (t, bo), (le, r)), constant_values=-np.inf)
    return _windows(xp, k, s, d).max(axis=(-2, -1))


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    """PyTorch layout [N,C,H,W] -> TensorFlow layout [N,H,W,C]."""
    return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))


def nhwc_to_nchw(x: np.ndarray) -> np.ndarray:
    """TensorFlow layout [N,H,W,C] -> PyTorch layout [N,C,H,W]."""
    return np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))


def oihw_to_hwio(w: np.ndarray) -> np.ndarray:
    """PyTorch conv weight [O,C,kh,kw] -> TensorFlow/Keras conv kernel [kh,kw,C,O]."""
    return np.ascontiguousarray(np.transpose(w, (2, 3, 1, 0)))


# --------------------------------------------------------------------------- receptive fields


def window_indices(i: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> list[int]:
    """Input positions (unpadded coordinates; <0 or >=n means padding) read by output ``i`` (notebook 01)."""
    return [i * s - p + u * d for u in range(k)]


def receptive_field(layers: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """Receptive field size and jump after each layer of a stack (notebook 01).

    ``layers`` is a sequence of ``(k, s)`` or ``(k, s, d)``. Returns ``[(rf, jump), ...]`` where ``rf``
    is how many input pixels (per axis) one output cell depends on and ``jump`` the input distance
    between neighbouring output cells: ``rf += d(k-1) * jump``, then ``jump *= s``.
    """
    rf, jump, out = 1, 1, []
    for layer in layers:
        k, s = int(layer[0]), int(layer[1])
        d = int(layer[2]) if len(layer) > 2 else 1
        rf += d * (k - 1) * jump
        jump *= s
        out.append((rf, jump))
    return out


# --------------------------------------------------------------------------- parameters and MACs


def conv2d_params(c_in: int, c_out: int, k: int | Sequence[int], bias: bool = True, groups: int = 1) -> int:
    """Weights ``c_out * (c_in / groups) * kh * kw`` plus ``c_out`` biases (notebook 01)."""
    kh, kw = _pair(k)
    return c_out * (c_in // groups) * kh * kw + (c_out if bias else 0)


def conv2d_macs(c_in: int, c_out: int, k: int | Sequence[int], h_out: int, w_out: int, groups: int = 1) -> int:
    """Multiply-accumulates: every one of ``c_out * h_out * w_out`` outputs does ``(c_in/groups) * kh * kw`` (notebook 01)."""
    kh, kw = _pair(k)
    return c_out * h_out * w_out * (c_in // groups) * kh * kw


def linear_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """A fully connected layer: ``n_in * n_out`` weights plus ``n_out`` biases (notebook 01)."""
    return n_in * n_out + (n_out if bias else 0)


def linear_macs(n_in: int, n_out: int) -> int:
    """A fully connected layer does ``n_in * n_out`` multiply-accumulates per sample (notebook 01)."""
    return n_in * n_out


@dataclass(frozen=True)
class LayerCount:
    """One layer's output shape, parameters (``numel``) and MACs per sample."""

    name: str
    kind: str
    out_shape: tuple[int, ...]
    params: int
    macs: int


def count_layers(model, input_shape: Sequence[int]) -> list[LayerCount]:
    """Run ``model`` once on zeros of ``input_shape`` and count every leaf module (notebook 01).

    Parameters come from ``numel()``; MACs from the formulas above using the observed output shape
    (per sample). Functional ops (``F.max_pool2d``, ``F.relu``) are invisible to module hooks and do no MACs.
    """
    import torch
    from torch import nn

    rows: list[LayerCount] = []
    hooks = []

    def hook(name: str):
        def fn(mod, inputs, output):
            shape = tuple(output.shape[1:])
            params = sum(p.numel() for p in mod.parameters(recurse=False))
            if isinstance(mod, nn.Conv2d):
                macs = conv2d_macs(mod.in_channels, mod.out_channels, mod.kernel_size, shape[1], shape[2], mod.groups)
            elif isinstance(mod, nn.Linear):
                macs = linear_macs(mod.in_features, mod.out_features)
            else:
                macs = 0
            rows.append(LayerCount(name, type(mod).__name__, shape, params, macs))

        return fn

    for name, mod in model.named_modules():
        if name and not any(True for _ in mod.children()):
            hooks.append(mod.register_forward_hook(hook(name)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(*input_shape))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return rows


def format_counts(rows: Sequence[LayerCount]) -> str:
    """A small text table of :func:`count_layers` rows with a total line."""
    lines = [f"{'layer':<12}{'type':<11}{'output':<16}{'params':>9}{'MACs':>11}"]
    for r in rows:
        lines.append(f"{r.name:<12}{r.kind:<11}{str(list(r.out_shape)):<16}{r.params:>9,}{r.macs:>11,}")
    lines.append(f"{'total':<39}{sum(r.params for r in rows):>9,}{sum(r.macs for r in rows):>11,}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- hand-made kernels and plotting

#: Classic 3x3 kernels (cross-correlation orientation): each responds to one kind of local pattern.
EDGE_KERNELS: dict[str, np.ndarray] = {
    "vertical edges (Sobel x)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32),
    "horizontal edges (Sobel y)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float32),
    "outline (Laplacian)": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32),
    "blur (box 3x3)": np.full((3, 3), 1 / 9, dtype=np.float32),
}
