"""Distributed inference with TensorFlow strategies (notebooks 10 and 11).

Two ways to predict with a ``tf.distribute.MirroredStrategy`` (several GPUs, or logical CPU devices made
with :func:`course_utils.devices.configure_tf_logical_cpus` before TF starts):

* :func:`mirrored_predict` - Keras ``model.predict`` on a model *built under* ``strategy.scope()``: Keras
  splits every global batch across the replicas and puts the outputs back in order.
* :func:`strategy_run_predict` - the explicit loop: ``experimental_distribute_dataset`` splits each global
  batch into per-replica parts, ``strategy.run`` calls the model on every replica, and
  ``strategy.gather`` concatenates the parts. The row index travels with every row, so the order of the
  result is *checked*, not assumed, and a last, partial batch (even one leaving a replica empty) is exact.

TensorFlow is imported lazily: importing this module does not initialise TF's devices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["clone_under", "mirrored_predict", "strategy_run_predict", "make_strategy"]


def make_strategy(n_replicas: int | None = None):
    """A ``MirroredStrategy`` over the first ``n_replicas`` GPUs, else logical CPUs (all if ``None``)."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    if n_replicas is not None:
        if n_replicas > len(devices):
            raise ValueError(f"asked for {n_replicas} replicas but only {len(devices)} devices: {devices}")
        devices = devices[:n_replicas]
    return tf.distribute.MirroredStrategy(devices=devices)


def clone_under(strategy, build: Callable[[], Any], weights: list[np.ndarray]):
    """Build a Keras model with ``build()`` under ``strategy.scope()`` and give it ``weights``."""
    with strategy.scope():
        model = build()
        model.set_weights(weights)
    return model


_STEPS: dict[tuple[int, int], tuple] = {}


def _step_fn(strategy, model):
    """One traced ``tf.function`` per (strategy, model), reused across calls (tracing costs seconds)."""
    import tensorflow as tf

    key = (id(strategy), id(model))
    if key not in _STEPS:

        @tf.function(reduce_retracing=True)
        def step(batch):
            def replica_fn(idx, xb):
                return idx, model(xb, training=False)

            idx, out = strategy.run(replica_fn, args=batch)
            return strategy.gather(idx, axis=0), strategy.gather(out, axis=0)

        _STEPS[key] = (step, strategy, model)  # holding both keeps their ids from being reused
    return _STEPS[key][0]


def mirrored_predict(model, x: np.ndarray, global_batch: int = 256) -> np.ndarray:
    """Keras ``predict`` with a model built under a strategy's scope (notebook 10)."""
    return np.asarray(model.predict(x, batch_size=global_batch, verbose=0))


def strategy_run_predict(strategy, model, x: np.ndarray, global_batch: int = 256) -> np.ndarray:
    """Predict with ``strategy.run`` over a distributed dataset; outputs in input order (notebook 10).

    Each dataset element is ``(index, x)``. Per replica, the model runs on its share of the global batch;
    ``strategy.gather`` brings outputs and indices back; the indices are checked to cover every row once
    and used to place the outputs.
    """
    import tensorflow as tf

    n = len(x)
    ds = tf.data.Dataset.from_tensor_slices((np.arange(n, dtype=np.int64), x)).batch(global_batch)
    dist_ds = strategy.experimental_distribute_dataset(ds)
    step = _step_fn(strategy, model)
    idx_parts, out_parts = [], []
    for batch in dist_ds:
        idx, out = step(batch)
        idx_parts.append(idx.numpy())
        out_parts.append(out.numpy())
    idx = np.concatenate(idx_parts)
    out = np.concatenate(out_parts)
    if len(idx) != n or not np.array_equal(np.sort(idx), np.arange(n)):
        raise RuntimeError(f"rows lost or duplicated: got {len(idx)} indices for {n} rows")
    result = np.empty_like(out)
    result[idx] = out
    return result
