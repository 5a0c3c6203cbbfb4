"""The convolution explorer of notebook 01: sliders for kernel, stride, padding and dilation.

:func:`explore_conv` shows ipywidgets sliders that redraw a figure (the padded input grid, the output
grid, and the input cells one output cell reads, i.e. its receptive field) and update a text label
("kernel 3, stride 1, padding 0, dilation 1: output 7 x 7"). Where no widget front-end runs the
notebook (CI, nbval, a static web page) the same function also draws one static figure for the
starting values, so the executed notebook always shows something.

The geometry (:func:`conv_geometry`) uses notebook 01's output-size formula (its saved copy
``course_utils.cnn``) and is unit-tested; drawing needs matplotlib, the sliders ipywidgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from course_utils.cnn import conv_output_size

#: Canvas codes of the input grid and their colours.
PAD, INPUT, UNREAD, TAP_INPUT, TAP_PAD = 0, 1, 2, 3, 4
_INPUT_COLOURS = ["#d9d9d9", "#ffffff", "#f4cccc", "#f39c12", "#9c640c"]
_OUTPUT_COLOURS = ["#d6eaf8", "#f39c12"]

#: Slider ranges (min, max) of the widget explorer, in slider order; the first is the kernel size.
SLIDER_RANGES: dict[str, tuple[int, int]] = {
    "kernel": (1, 7),
    "stride": (1, 4),
    "padding": (0, 3),
    "dilation": (1, 3),
}


@dataclass(frozen=True)
class ConvGeometry:
    """Where a (square) convolution reads: sizes, the chosen output cell and its input taps."""

    n: int
    k: int
    s: int
    p: int
    d: int
    out: int
    cell: tuple[int, int] | None
    taps: tuple[tuple[int, ...], tuple[int, ...]] = field(default=((), ()))
    covered: tuple[bool, ...] = ()

    @property
    def span(self) -> int:
        """Extent of the dilated kernel, ``d(k-1)+1``."""
        return self.d * (self.k - 1) + 1

    @property
    def padded(self) -> int:
        """Side of the padded input, ``n + 2p``."""
        return self.n + 2 * self.p


def conv_geometry(
    n: int, k: int, s: int = 1, p: int = 0, d: int = 1, cell: str | tuple[int, int] = "last"
) -> ConvGeometry:
    """Compute output size, the taps of one output cell and which input rows any window reads.

    ``cell`` is ``"last"`` (bottom-right output cell: it shows padding and what stride leaves out),
    ``"first"``, ``"centre"`` or an explicit ``(row, col)``. Taps and coverage are in *padded*
    coordinates (0 .. n+2p-1), the same along rows and columns.
    """
    for name, v, lo in (("n", n, 1), ("k", k, 1), ("s", s, 1), ("p", p, 0), ("d", d, 1)):
        if int(v) != v or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    out = conv_output_size(n, k, s, p, d)
    if out == 0:
        return ConvGeometry(n, k, s, p, d, 0, None, ((), ()), tuple([False] * (n + 2 * p)))
    if cell == "last":
        ij = (out - 1, out - 1)
    elif cell == "first":
        ij = (0, 0)
    elif cell == "centre":
        ij = ((out - 1) // 2, (out - 1) // 2)
    else:
        ij = (int(cell[0]), int(cell[1]))  # type: ignore[index]
        if not (0 <= ij[0] < out and 0 <= ij[1] < out):
            raise ValueError(f"cell {ij} outside the {out} x {out} output")
    taps = tuple(tuple(i * s + u * d for u in range(k)) for i in ij)  # output i reads padded i*s + u*d
    read = {i * s + u * d for i in range(out) for u in range(k)}
    covered = tuple(q in read for q in range(n + 2 * p))
    return ConvGeometry(n, k, s, p, d, out, ij, taps, covered)  # type: ignore[arg-type]


def describe(g: ConvGeometry) -> str:
    """The label text: every setting and the output size, e.g. ``... : output 7 x 7``."""
    head = f"input {g.n} x {g.n}, kernel {g.k}, stride {g.s}, padding {g.p}, dilation {g.d}"
    if g.out == 0:
        return f"{head}: no output (dilated kernel {g.span} > padded input {g.padded})"
    return f"{head}: output {g.out} x {g.out}"


def _input_canvas(g: ConvGeometry) -> np.ndarray:
    m = g.padded
    canvas = np.full((m, m), PAD, dtype=int)
    canvas[g.p : g.p + g.n, g.p : g.p + g.n] = INPUT
    cov = np.asarray(g.covered, dtype=bool)
    unread = ~(cov[:, None] & cov[None, :])
    canvas[(canvas == INPUT) & unread] = UNREAD
    for r in g.taps[0]:
        for c in g.taps[1]:
            canvas[r, c] = TAP_INPUT if canvas[r, c] != PAD else TAP_PAD
    return canvas


def _grid(ax, m: int) -> None:
    """Cell borders of an ``m x m`` grid drawn only over the grid itself."""
    edges = np.arange(m + 1) - 0.5
    ax.hlines(edges, -0.5, m - 0.5, color="#888888", linewidth=0.5)
    ax.vlines(edges, -0.5, m - 0.5, color="#888888", linewidth=0.5)
    ax.set_axis_off()


def draw_conv(n: int = 9, k: int = 3, s: int = 1, p: int = 0, d: int = 1, cell="last", dpi: int = 80):
    """Draw the padded input (taps of one output cell highlighted) beside the output grid; return the figure.

    Both grids use the same cell size, so the output's shrinkage is visible at a glance.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Rectangle

    g = conv_geometry(n, k, s, p, d, cell)
    side = max(g.padded, g.out)
    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(7.0, 4.0), dpi=dpi)
    ax_in.imshow(_input_canvas(g), cmap=ListedColormap(_INPUT_COLOURS), vmin=0, vmax=len(_INPUT_COLOURS) - 1)
    _grid(ax_in, g.padded)
    ax_in.set_title(f"input {n}x{n} + padding {p} (grey)", fontsize=9)
    if g.out:
        r0, c0 = g.taps[0][0], g.taps[1][0]
        ax_in.add_patch(
            Rectangle((c0 - 0.5, r0 - 0.5), g.span, g.span, fill=False, edgecolor="#c0392b", lw=1.5)
        )
        out = np.zeros((g.out, g.out), dtype=int)
        out[g.cell] = 1
        ax_out.imshow(out, cmap=ListedColormap(_OUTPUT_COLOURS), vmin=0, vmax=1)
        _grid(ax_out, g.out)
        ax_out.set_title(f"output {g.out}x{g.out} (orange: cell {g.cell})", fontsize=9)
    else:
        ax_out.text(
            side / 2 - 0.5,
            side / 2 - 0.5,
            "no output:\nkernel larger than\npadded input",
            ha="center",
            va="center",
        )
        ax_out.set_axis_off()
    for ax in (ax_in, ax_out):
        ax.set_xlim(-0.6, side - 0.4)
        ax.set_ylim(side - 0.4, -0.6)
    fig.text(
        0.5,
        0.02,
        f"k={k} s={s} p={p} d={d} | orange: the input cells the orange output reads (dark: padding)\n"
        "red box: dilated kernel extent d(k-1)+1 | pink: input cells no window reads",
        ha="center",
        va="bottom",
        fontsize=8,
    )
    fig.subplots_adjust(left=0.02, right=0.98, top=0.92, bottom=0.13, wspace=0.08)
    return fig


@dataclass
class ConvExplorer:
    """The widgets of :func:`build_conv_explorer` (kept so tests and notebooks can drive them)."""

    box: object
    sliders: dict
    label: object
    output: object
    n: int

    def geometry(self) -> ConvGeometry:
        """The geometry for the sliders' current values."""
        v = {name: w.value for name, w in self.sliders.items()}
        return conv_geometry(self.n, v["kernel"], v["stride"], v["padding"], v["dilation"])


def build_conv_explorer(
    n: int = 9, k: int = 3, s: int = 1, p: int = 0, d: int = 1, draw: bool = True
) -> ConvExplorer:
    """Build sliders (kernel, stride, padding, dilation), a ``Label`` and an ``Output`` wired together.

    Every slider change recomputes the label text and, with ``draw=True``, redraws the figure into the
    ``Output``. Nothing is displayed here (see :func:`explore_conv`).
    """
    import ipywidgets as widgets

    start = {"kernel": k, "stride": s, "padding": p, "dilation": d}
    sliders = {
        name: widgets.IntSlider(
            value=start[name],
            min=lo,
            max=hi,
            step=1,
            description=name,
            continuous_update=True,
            layout=widgets.Layout(width="320px"),
        )
        for name, (lo, hi) in SLIDER_RANGES.items()
    }
    label = widgets.Label()
    output = widgets.Output(layout=widgets.Layout(min_height="320px"))
    ex = ConvExplorer(widgets.VBox([*sliders.values(), label, output]), sliders, label, output, n)

    def redraw(change=None) -> None:
        g = ex.geometry()
        label.value = describe(g)
        if not draw:
            return
        import matplotlib.pyplot as plt
        from IPython.display import display

        with output:
            output.clear_output(wait=True)
            fig = draw_conv(n, g.k, g.s, g.p, g.d)
            display(fig)
            plt.close(fig)

    for w in sliders.values():
        w.observe(redraw, names="value")
    redraw()
    return ex


def explore_conv(
    n: int = 9, k: int = 3, s: int = 1, p: int = 0, d: int = 1, interactive: bool | None = None
) -> ConvExplorer | None:
    """Show the convolution explorer (notebook 01).

    ``interactive=True``: the sliders only. ``False``: one static figure for the given values (no
    ipywidgets needed). ``None`` (default): both - the sliders for a live JupyterLab, and a static
    figure so that a notebook executed without a widget front-end (CI, a web page) still shows it.
    """
    from IPython.display import display

    ex = None
    if interactive in (None, True):
        ex = build_conv_explorer(n, k, s, p, d)
        display(ex.box)
    if interactive in (None, False):
        import matplotlib.pyplot as plt

        g = conv_geometry(n, k, s, p, d)
        print(f"Static view ({describe(g)}); move the sliders above in a live notebook.")
        fig = draw_conv(n, k, s, p, d)
        display(fig)
        plt.close(fig)
    return ex
