"""Keras helpers for the TensorFlow side of the course: callbacks and a throughput meter.

Taught in notebook 06; reused by notebook 07 (``MirroredStrategy``). Importing this module imports
Keras (and TensorFlow): in a notebook that splits the CPU into logical devices, call
``course_utils.devices.configure_tf_logical_cpus`` first.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import keras

__all__ = ["ImagesPerSecond", "standard_callbacks"]


class ImagesPerSecond(keras.callbacks.Callback):
    """Adds ``images_per_s`` (training images per second, validation excluded) to each epoch's logs (notebook 06).

    ``images_per_epoch`` is the number of training images in one epoch (e.g. ``len(x_train)``). The
    clock runs from the start of the epoch until validation starts (or the epoch ends), so the value
    lands in ``history.history["images_per_s"]`` next to the loss and accuracy.
    """

    def __init__(self, images_per_epoch: int) -> None:
        super().__init__()
        self.images_per_epoch = int(images_per_epoch)
        self._t0 = 0.0
        self._t_train_end: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()
        self._t_train_end = None

    def on_test_begin(self, logs=None):
        if self._t_train_end is None:
            self._t_train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = self._t_train_end if self._t_train_end is not None else time.perf_counter()
        if logs is not None:
            logs["images_per_s"] = self.images_per_epoch / max(end - self._t0, 1e-9)


def standard_callbacks(
    log_dir: str | os.PathLike | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    patience: int | None = 3,
    monitor: str = "val_loss",
) -> list[keras.callbacks.Callback]:
    """TensorBoard logs, best-model checkpoint (``.keras``) and early stopping, each only if asked (notebook 06).

    * ``log_dir`` -> ``keras.callbacks.TensorBoard`` (scalars per epoch; open with ``tensorboard --logdir``);
    * ``checkpoint_path`` (must end in ``.keras``) -> ``ModelCheckpoint`` keeping the best model by
      ``monitor``;
    * ``patience`` -> ``EarlyStopping`` on ``monitor`` that restores the best weights at the end.
    """
    callbacks: list[keras.callbacks.Callback] = []
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=0, write_graph=False))
    if checkpoint_path is not None:
        if Path(checkpoint_path).suffix != ".keras":
            raise ValueError(f"Keras 3 saves whole models as .keras files, got {checkpoint_path}")
        Path(checkpoint_path).parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.ModelCheckpoint(str(checkpoint_path), monitor=monitor, save_best_only=True))
    if patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True))
    return callbacks
