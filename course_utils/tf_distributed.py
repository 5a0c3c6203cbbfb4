"""TensorFlow data parallelism: ``MirroredStrategy`` on one machine, ``MultiWorkerMirroredStrategy`` on several.

Taught in notebook 07. The rules the helpers follow:

* **Devices first.** On a machine with fewer than two GPUs the CPU is split into logical devices with
  :func:`course_utils.devices.configure_tf_logical_cpus` *before* TensorFlow initialises;
  :func:`mirrored_devices` then picks the GPUs if there are at least two, else the logical CPUs.
* **Global batch = per-replica batch × replicas** (erratum 9). A dataset handed to a strategy is batched
  by the *global* batch; the strategy cuts each global batch into one slice per replica.
* **Loss scaling.** In a custom loop each replica's loss is ``sum(per-example loss) / global_batch``
  (``tf.nn.compute_average_loss``); the optimizer *sums* the replicas' gradients, so the update is the
  gradient of the mean over the global batch - exactly what one device would compute.
* **Multi-worker.** Each worker is its own process with ``TF_CONFIG`` naming the cluster and its task;
  :func:`launch_multiworker` starts them locally (``python -m course_utils.tf_multiworker``). With TF 2.21 /
  Keras 3, ``model.fit`` under ``MultiWorkerMirroredStrategy`` fails, so the workers use the custom loop.

TensorFlow is imported inside functions, so importing this module does not initialise TF's devices.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .launch import free_port
from .pipeline import tf_dataset

__all__ = [
    "mirrored_devices",
    "make_dataset",
    "make_train_step",
    "train_steps",
    "train_k_steps_from",
    "fit_throughput",
    "tf_config",
    "WorkerRun",
    "launch_multiworker",
]

_ROOT = Path(__file__).resolve().parent.parent


def mirrored_devices(n_cpu: int = 2) -> list[str]:
    """Devices for ``MirroredStrategy``: all GPUs when there are at least two, else ``n_cpu`` logical CPUs.

    Call :func:`course_utils.devices.configure_tf_logical_cpus` first (before any other TF call).
    """
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) >= 2:
        return [d.name for d in gpus]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(cpus) < n_cpu:
        raise RuntimeError(
            f"TensorFlow sees {len(cpus)} logical CPU device(s), {n_cpu} wanted: call "
            f"configure_tf_logical_cpus({n_cpu}) before any other TensorFlow call (restart the kernel)"
        )
    return cpus[:n_cpu]


def make_dataset(images: np.ndarray, labels: np.ndarray, global_batch: int, shuffle: bool = False, repeat: bool = False, seed: int = 0):
    """Notebook 04's ``tf_dataset`` (normalised NHWC batches) batched by the **global** batch, ready for a
    strategy: full batches only, optionally repeated, sharded between workers by element."""
    import tensorflow as tf

    ds = tf_dataset(images, labels, global_batch, shuffle=shuffle, seed=seed, drop_remainder=True)
    if repeat:
        ds = ds.repeat()
    options = tf.data.Options()
    # in-memory data has no files to split between workers: shard by element instead
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def make_train_step(strategy, model, optimizer, global_batch: int, local_mean: bool = False):
    """A ``tf.function`` that runs one step on every replica and returns the global mean loss.

    Inside each replica: per-example losses → ``tf.nn.compute_average_loss(..., global_batch_size)``
    (sum / global batch, *not* mean over the local slice) → gradients → ``optimizer.apply_gradients``
    (which all-reduces, i.e. sums, the replicas' gradients). ``strategy.reduce(SUM)`` adds the replicas'
    scaled losses into the mean loss over the global batch.

    ``local_mean=True`` makes the common mistake instead - each replica averages over its own slice - so
    the summed gradient is ``replicas`` times too large (shown in notebook 07).
    """
    import keras
    import tensorflow as tf

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            probs = model(xb, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(yb, probs)
            if local_mean:
                loss = tf.reduce_mean(per_example)  # wrong under a strategy: see the docstring
            else:
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def step(dist_batch):
        per_replica_loss = strategy.run(replica_step, args=dist_batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_loss, axis=None)

    return step


def train_steps(strategy, model, optimizer, dataset, global_batch: int, steps: int, local_mean: bool = False) -> list[float]:
    """Run ``steps`` custom-loop steps over ``strategy.experimental_distribute_dataset(dataset)``; losses."""
    step = make_train_step(strategy, model, optimizer, global_batch, local_mean)
    it = iter(strategy.experimental_distribute_dataset(dataset))
    return [float(step(next(it))) for _ in range(steps)]


def train_k_steps_from(
    strategy,
    weights: list[np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    global_batch: int,
    steps: int,
    lr: float = 0.05,
    local_mean: bool = False,
) -> tuple[list[np.ndarray], list[float]]:
    """Build ``keras_cnn(dropout=False)`` in ``strategy.scope()``, set ``weights``, run ``steps`` SGD steps
    on the first ``steps × global_batch`` samples in order; return the final weights and the losses.

    Used for the proof "N replicas on global batch B == 1 replica on B".
    """
    import keras

    from .models import keras_cnn

    with strategy.scope():
        model = keras_cnn(dropout=False)
        model.set_weights(weights)
        optimizer = keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
        optimizer.build(model.trainable_variables)  # create its slots now, mirrored, not inside strategy.run
    n = steps * global_batch
    ds = make_dataset(images[:n], labels[:n], global_batch)
    losses = train_steps(strategy, model, optimizer, ds, global_batch, steps, local_mean)
    return model.get_weights(), losses


def fit_throughput(strategy, images: np.ndarray, labels: np.ndarray, global_batch: int, epochs: int = 2) -> tuple[float, dict]:
    """Keras ``fit`` of ``keras_cnn`` under ``strategy`` for ``epochs``; returns the last epoch's training
    images/s (the first one includes tracing the graph) and the history dict."""
    import keras

    from .models import keras_cnn
    from .tf_train import ImagesPerSecond

    with strategy.scope():  # variables created here are mirrored on every replica
        model = keras_cnn()
        model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ds = make_dataset(images, labels, global_batch, shuffle=True)
    n = (len(images) // global_batch) * global_batch
    # shuffle=False: the dataset already reshuffles every epoch (Keras cannot shuffle a tf.data pipeline)
    hist = model.fit(ds, epochs=epochs, verbose=0, shuffle=False, callbacks=[ImagesPerSecond(n)])
    return hist.history["images_per_s"][-1], hist.history


def tf_config(ports: list[int], index: int, host: str = "127.0.0.1") -> dict[str, Any]:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of ``len(ports)`` workers on ``host``."""
    return {"cluster": {"worker": [f"{host}:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}


@dataclass
class WorkerRun:
    """One finished worker process of :func:`launch_multiworker`."""

    index: int
    returncode: int
    log: str
    tf_config: dict

    def lines(self, *needles: str) -> list[str]:
        """Log lines containing any of ``needles`` (all lines when none given)."""
        return [ln for ln in self.log.splitlines() if not needles or any(n in ln for n in needles)]


def launch_multiworker(
    out_dir: str | os.PathLike,
    n_workers: int = 2,
    worker_args: list[str] | None = None,
    timeout: float = 300.0,
    cpu_only: bool = True,
) -> list[WorkerRun]:
    """Start ``n_workers`` × ``python -m course_utils.tf_multiworker`` on 127.0.0.1, each with its own
    ``TF_CONFIG``; wait for all; return their logs. If one fails or the time runs out, all are stopped.

    ``cpu_only`` hides GPUs from the workers (two processes would otherwise fight over one GPU's memory).
    """
    ports = [free_port() for _ in range(n_workers)]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    procs, logs = [], []
    for i in range(n_workers):
        cfg = tf_config(ports, i)
        env = dict(os.environ, TF_CONFIG=json.dumps(cfg), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
        if cpu_only:
            env["CUDA_VISIBLE_DEVICES"] = ""
        log = open(out_dir / f"worker{i}.log", "w+")  # noqa: SIM115 - closed below
        cmd = [sys.executable, "-m", "course_utils.tf_multiworker", "--out", str(out_dir), *(worker_args or [])]
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=_ROOT))
        logs.append((log, cfg))
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in procs):
            if time.monotonic() > deadline:
                raise TimeoutError(f"multi-worker run did not finish within {timeout:.0f} s")
            if any(p.poll() not in (None, 0) for p in procs):
                time.sleep(2)  # let the others report, then stop them
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    runs = []
    for i, (p, (log, cfg)) in enumerate(zip(procs, logs, strict=True)):
        log.seek(0)
        runs.append(WorkerRun(i, p.returncode, log.read(), cfg))
        log.close()
    return runs
