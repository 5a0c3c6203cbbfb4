"""Exporting trained models so that inference workers need no training code (notebook 10).

* TorchScript (:func:`save_torchscript`): ``torch.jit.script`` + ``save``; load with ``torch.jit.load`` -
  no Python class needed on the worker.
* ``torch.export`` (:func:`save_torch_export`): a traced, ahead-of-time graph (``.pt2``) with a *dynamic*
  batch dimension, so one file serves any batch size; load with ``torch.export.load(path).module()``.
* Keras: the native ``.keras`` file (``model.save`` / ``keras.saving.load_model``) and a TensorFlow
  SavedModel for serving (:func:`export_savedmodel`, reloaded with ``tf.saved_model.load``).

:func:`course_utils.infer.load_model` loads either PyTorch format, and
:func:`course_utils.infer.distributed_predict` accepts the file path directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

__all__ = ["save_torchscript", "save_torch_export", "export_savedmodel", "load_savedmodel"]


def save_torchscript(model: nn.Module, path: str | os.PathLike) -> Path:
    """Script ``model`` (in eval mode) and save it; returns the path."""
    model.eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(model), str(path))
    return path


def save_torch_export(model: nn.Module, example: torch.Tensor, path: str | os.PathLike) -> Path:
    """``torch.export`` ``model`` (eval mode) with a dynamic batch dimension and save it as ``.pt2``.

    ``example`` is one input batch (at least 2 rows, so the batch size is not specialised to 1).
    """
    path = Path(path)
    if path.suffix != ".pt2":
        raise ValueError("torch.export files use the .pt2 suffix")
    model.eval()
    batch = torch.export.Dim("batch", min=1)
    ep = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(ep, str(path))
    return path


def export_savedmodel(model, directory: str | os.PathLike) -> Path:
    """Write a Keras model as a TensorFlow SavedModel (``model.export``), for TF Serving and friends."""
    directory = Path(directory)
    model.export(str(directory), verbose=False)
    return directory


def load_savedmodel(directory: str | os.PathLike):
    """Reload :func:`export_savedmodel`'s output; returns a function ``x -> outputs`` (NumPy)."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(directory))

    def serve(x):
        return loaded.serve(tf.constant(x)).numpy()

    serve.loaded = loaded  # keep the object (and its variables) alive
    return serve
