"""The course's models, defined once.

``Net`` is the original article's PyTorch CNN, done right (taught in notebook 05): it returns
**log-probabilities** (``log_softmax``), so it is trained with ``F.nll_loss`` - not with
``nn.CrossEntropyLoss``, which would apply log-softmax a second time (erratum 8).
Keras builders import TensorFlow lazily, so PyTorch-only processes never load it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Net", "keras_mlp", "keras_cnn"]


class Net(nn.Module):
    """The article's CNN: conv(1→10,5) → pool → conv(10→20,5) → dropout2d → pool → fc(320→50) → fc(50→10).

    Input ``[N, 1, 28, 28]`` float (normalised), output ``[N, 10]`` log-probabilities.
    21,840 parameters.
    """

    def __init__(self, dropout: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(0.5 if dropout else 0.0)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        self.dropout = 0.5 if dropout else 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.flatten(1)  # [N, 320]; the article's x.view(-1, 320) hides shape bugs
        x = F.relu(self.fc1(x))
        x = F.dropout(x, p=self.dropout, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)


def keras_mlp(dropout: float = 0.2):
    """The article's Keras model: Flatten → Dense(128, relu) → Dropout → Dense(10, softmax)."""
    import keras

    return keras.Sequential(
        [
            keras.layers.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="article_mlp",
    )


def keras_cnn(dropout: bool = True):
    """A Keras CNN with the same layers and parameter count as :class:`Net` (NHWC input [N,28,28,1])."""
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            layers.Input((28, 28, 1)),
            layers.Conv2D(10, 5),
            layers.MaxPooling2D(2),
            layers.ReLU(),
            layers.Conv2D(20, 5),
            layers.SpatialDropout2D(0.5 if dropout else 0.0),
            layers.MaxPooling2D(2),
            layers.ReLU(),
            layers.Flatten(),
            layers.Dense(50, activation="relu"),
            layers.Dropout(0.5 if dropout else 0.0),
            layers.Dense(10, activation="softmax"),
        ],
        name="net_keras",
    )
