"""course_utils.explorer: geometry, label text, widgets wiring and the static fallback."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import cnn, explorer  # noqa: E402


def test_geometry_last_cell_taps_and_coverage():
    g = explorer.conv_geometry(9, 3, 2, 1, 1)
    assert g.out == cnn.conv_output_size(9, 3, 2, 1, 1) == 5
    assert g.cell == (4, 4)
    assert g.taps == ((8, 9, 10), (8, 9, 10))  # padded coordinates: 10 is the bottom/right padding
    assert all(g.covered)
    g = explorer.conv_geometry(8, 2, 3)  # windows at 0-1, 3-4, 6-7: rows 2 and 5 are never read
    assert [i for i, c in enumerate(g.covered) if not c] == [2, 5]


def test_geometry_cells_and_errors():
    assert explorer.conv_geometry(9, 3, cell="first").cell == (0, 0)
    assert explorer.conv_geometry(9, 3, cell="centre").cell == (3, 3)
    assert explorer.conv_geometry(9, 3, cell=(1, 2)).taps == ((1, 2, 3), (2, 3, 4))
    with pytest.raises(ValueError):
        explorer.conv_geometry(9, 3, cell=(7, 0))
    with pytest.raises(ValueError):
        explorer.conv_geometry(9, 0)
    g = explorer.conv_geometry(3, 7, d=3)
    assert g.out == 0 and g.cell is None and "no output" in explorer.describe(g)


def test_describe_names_the_output_size():
    assert explorer.describe(explorer.conv_geometry(13, 3, 1, 1)).endswith("output 13 x 13")


def test_every_slider_change_changes_the_label():
    ex = explorer.build_conv_explorer(draw=False)
    names = list(ex.sliders)
    assert names[0] == "kernel"  # the browser test moves the first slider
    for name in names:
        for step in (+1, -1):
            slider = ex.sliders[name]
            if not slider.min <= slider.value + step <= slider.max:
                continue
            before = ex.label.value
            slider.value += step
            assert ex.label.value != before, name
    assert ex.label.value == explorer.describe(ex.geometry())


def test_first_slider_has_room_to_move_right():
    ex = explorer.build_conv_explorer(draw=False)
    assert ex.sliders["kernel"].value < ex.sliders["kernel"].max


@pytest.mark.parametrize("args", [(9, 3, 1, 0, 1), (8, 3, 3, 1, 2), (3, 7, 1, 0, 3), (5, 1, 4, 3, 1)])
def test_draw_conv_draws_two_panels(args):
    fig = explorer.draw_conv(*args)
    assert len(fig.axes) == 2
    plt.close(fig)


def test_input_canvas_marks_padding_taps_and_unread():
    g = explorer.conv_geometry(4, 2, 3, 1)  # padded 6: windows at 0-1 and 3-4; row/col 2 and 5 unread
    canvas = explorer._input_canvas(g)
    assert canvas.shape == (6, 6)
    assert canvas[0, 0] == explorer.PAD and canvas[1, 1] == explorer.INPUT
    assert canvas[2, 1] == explorer.UNREAD and canvas[1, 2] == explorer.UNREAD
    assert np.all(canvas[3:5, 3:5] == explorer.TAP_INPUT) and np.sum(canvas >= explorer.TAP_INPUT) == 4
    g = explorer.conv_geometry(4, 3, 1, 1, cell="first")
    assert explorer._input_canvas(g)[0, 0] == explorer.TAP_PAD


def test_explore_conv_static_and_interactive(capsys):
    assert explorer.explore_conv(interactive=False) is None
    assert "Static view" in capsys.readouterr().out
    ex = explorer.explore_conv(interactive=True)
    assert ex is not None and "output 7 x 7" in ex.label.value
    plt.close("all")
