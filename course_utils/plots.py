"""Figures several notebooks draw: learning curves, image and feature-map grids.

Each takes plain data (arrays, tensors, dicts of lists), draws a small new figure (or on ``ax=``) and returns
the ``Figure``; pyplot is imported lazily so the notebook's (or the tests' ``Agg``) backend is respected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

DPI = 90


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    elif hasattr(x, "numpy") and not isinstance(x, np.ndarray):  # tf tensor
        x = x.numpy()
    return np.asarray(x)


def _history_dict(history: Any) -> dict[str, list[float]]:
    """Accept a course ``History``, a Keras ``History`` (both have ``.history``) or a plain dict."""
    d = getattr(history, "history", history)
    if not isinstance(d, Mapping):
        raise TypeError(f"expected a History or a dict of lists, got {type(history).__name__}")
    return {k: [float(v) for v in vals] for k, vals in d.items()}


def plot_learning_curves(history: Any, metrics: Sequence[str] | None = None, title: str | None = None,
                         axes: Sequence[Any] | None = None, label: str | None = None):  # fmt: skip
    """One panel per metric, training and ``val_`` curves together (notebooks 05-06).

    ``history``: a course ``History``, a Keras ``History`` or a dict of lists. Pass ``axes`` (and ``label``)
    to overlay several runs on the same panels.
    """
    import matplotlib.pyplot as plt

    h = _history_dict(history)
    bases: list[str] = []
    for k in h:
        base = k[4:] if k.startswith("val_") else k
        if base not in bases:
            bases.append(base)
    if metrics is None:
        metrics = [b for b in ("loss", "accuracy") if b in bases] or bases
    if not metrics:
        raise ValueError("the history has no metrics to plot")
    for m in metrics:
        if m not in h and f"val_{m}" not in h:
            raise KeyError(f"metric {m!r} not in history (has {sorted(h)})")
    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), dpi=DPI, squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(axes)
        fig = axes[0].figure
    prefix = f"{label} " if label else ""
    for ax, m in zip(axes, metrics, strict=False):
        for key, style, name in ((m, "-o", "train"), (f"val_{m}", "--s", "validation")):
            if key in h:
                vals = h[key]
                epochs = np.arange(1, len(vals) + 1)
                ax.plot(epochs, vals, style, markersize=4, label=prefix + name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(m)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _as_hw_images(images: Any) -> np.ndarray:
    x = _to_numpy(images)
    if x.ndim == 4 and x.shape[1] == 1:  # [N,1,H,W]
        x = x[:, 0]
    elif x.ndim == 4 and x.shape[-1] == 1:  # [N,H,W,1]
        x = x[..., 0]
    elif x.ndim == 2 and int(np.sqrt(x.shape[1])) ** 2 == x.shape[1]:  # [N, H*W] square images
        side = int(np.sqrt(x.shape[1]))
        x = x.reshape(len(x), side, side)
    if x.ndim != 3:
        raise ValueError(f"expected images [N,H,W], [N,1,H,W], [N,H,W,1] or [N,H*W], got shape {x.shape}")
    return x


def show_images(images: Any, labels: Any | None = None, predictions: Any | None = None, ncols: int = 8,
                title: str | None = None, cmap: str = "gray", max_images: int = 64):  # fmt: skip
    """A grid of images with optional labels; with ``predictions``, wrong ones are titled in red (notebooks 04-05).

    Images may be ``[N,H,W]``, ``[N,1,H,W]``, ``[N,H,W,1]`` or flat square ``[N,H*W]``, uint8 or
    normalised floats, NumPy or tensors. At most ``max_images`` are drawn.
    """
    x = _as_hw_images(images)[:max_images]
    n = len(x)
    if n == 0:
        raise ValueError("no images to show")
    lab = _to_numpy(labels)[:n] if labels is not None else None
    pred = _to_numpy(predictions)[:n] if predictions is not None else None
    titles, colors = None, None
    if pred is not None:
        ok = [lab is None or pred[i] == lab[i] for i in range(n)]
        titles = [f"{pred[i]}" if ok[i] else f"{pred[i]} (true {lab[i]})" for i in range(n)]
        colors = ["black" if good else "red" for good in ok]
    elif lab is not None:
        titles = [str(v) for v in lab]
    return show_maps(
        list(x),
        titles,
        ncols=ncols,
        size=(1.1, 1.25),
        cmap=cmap,
        suptitle=title,
        dpi=DPI,
        title_colors=colors,
    )


def show_maps(maps: Sequence[np.ndarray] | np.ndarray, titles: Sequence[str] | None = None, ncols: int = 6,
              size: float | tuple[float, float] = 1.6, cmap: str = "gray", suptitle: str | None = None,
              dpi: int = 80, symmetric: bool = False, title_colors: Sequence[str] | None = None):  # fmt: skip
    """Plot 2-D arrays (images, kernels, feature maps) in a grid; return the figure (notebook 01).

    ``size`` is the width (and height) of one cell in inches, or ``(width, height)``.
    ``symmetric=True`` centres each colour scale on 0 (use a diverging ``cmap`` such as ``"RdBu_r"``),
    so positive and negative weights or responses are told apart. ``title_colors`` colours each title
    (:func:`show_images` marks wrong predictions red with it).
    """
    import matplotlib.pyplot as plt

    maps = [np.asarray(m) for m in maps]
    if not maps:
        raise ValueError("no maps to show")
    if any(m.ndim != 2 for m in maps):
        raise ValueError(
            f"every map must be 2-D, got shapes {sorted({m.shape for m in maps if m.ndim != 2})}"
        )
    w, h = (size, size) if np.isscalar(size) else size
    ncols = max(1, min(ncols, len(maps)))
    nrows = -(-len(maps) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(w * ncols, h * nrows + (0.3 if suptitle else 0)), dpi=dpi, squeeze=False
    )
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= len(maps):
            continue
        lim = float(np.abs(maps[i]).max()) or 1.0
        ax.imshow(maps[i], cmap=cmap, **({"vmin": -lim, "vmax": lim} if symmetric else {}))
        if titles is not None:
            ax.set_title(
                titles[i], fontsize=8, color=title_colors[i] if title_colors is not None else "black"
            )
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig
