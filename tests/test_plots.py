"""course_utils.plots: each figure draws what it should (the confusion matrix is notebook 05's own code)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils.plots import (  # noqa: E402
    plot_learning_curves,
    show_images,
    show_maps,
)
from course_utils.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_learning_curves_from_course_keras_and_dict_histories():
    h = History()
    for e, (lo, vl) in enumerate([(1.0, 1.1), (0.5, 0.7), (0.3, 0.6)]):
        h.append(e, loss=lo, val_loss=vl, accuracy=0.5 + e / 10, val_accuracy=0.4 + e / 10, images_per_s=100)
    fig = plot_learning_curves(h, title="t")
    axes = fig.axes
    assert [a.get_ylabel() for a in axes] == ["loss", "accuracy"]
    assert [len(a.get_lines()) for a in axes] == [2, 2]
    np.testing.assert_allclose(axes[0].get_lines()[1].get_ydata(), [1.1, 0.7, 0.6])

    class KerasLike:  # keras.callbacks.History keeps its dict in .history too
        history = {"loss": [2.0, 1.0], "val_loss": [2.5, 1.5]}

    fig2 = plot_learning_curves(KerasLike())
    assert len(fig2.axes) == 1 and len(fig2.axes[0].get_lines()) == 2
    fig3 = plot_learning_curves({"images_per_s": [1, 2]}, metrics=["images_per_s"])
    assert fig3.axes[0].get_ylabel() == "images_per_s"
    # overlay a second run on the same panels
    plot_learning_curves({"loss": [3, 2, 1]}, metrics=["loss"], axes=[fig2.axes[0]], label="other")
    assert len(fig2.axes[0].get_lines()) == 3
    with pytest.raises(KeyError):
        plot_learning_curves(h, metrics=["f1"])
    with pytest.raises(TypeError):
        plot_learning_curves([1, 2])


@pytest.mark.parametrize("shape", [(10, 28, 28), (10, 1, 28, 28), (10, 28, 28, 1), (10, 784)])
def test_show_images_layouts(shape):
    imgs = np.random.default_rng(0).random(shape)
    fig = show_images(imgs, labels=np.arange(10), ncols=4)
    shown = [a for a in fig.axes if a.images]
    assert len(shown) == 10 and len(fig.axes) == 12  # 3 rows x 4, two empty
    assert shown[0].images[0].get_array().shape == (28, 28)


def test_show_images_marks_wrong_predictions_red():
    imgs = torch.zeros(3, 1, 28, 28)
    fig = show_images(imgs, labels=[1, 2, 3], predictions=[1, 0, 3], title="preds")
    titles = [(a.get_title(), a.title.get_color()) for a in fig.axes if a.images]
    assert titles[1] == ("0 (true 2)", "red") and titles[0][1] == "black"
    with pytest.raises(ValueError):
        show_images(np.zeros((0, 28, 28)))
    with pytest.raises(ValueError):
        show_images(np.zeros((2, 5, 7, 3)))


def test_show_maps_sizes_symmetric_scale_and_bad_input():
    fig = show_maps(
        [np.array([[-2.0, 1.0]]), np.ones((3, 3))], ["a", "b"], ncols=1, size=(2.0, 1.0), symmetric=True
    )
    assert tuple(fig.get_size_inches()) == pytest.approx((2.0, 2.0))  # one column, two rows of 2 x 1 in
    assert fig.axes[0].images[0].get_clim() == (-2.0, 2.0)  # centred on 0
    assert [a.get_title() for a in fig.axes] == ["a", "b"]
    with pytest.raises(ValueError, match="no maps"):
        show_maps([])
    with pytest.raises(ValueError, match="2-D"):
        show_maps([np.zeros((2, 2, 3))])
