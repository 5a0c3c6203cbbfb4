"""Apache Spark for inference and training, in local mode on one machine (notebooks 10 and 11).

* :func:`get_spark` - a ``SparkSession`` on ``local[N]``: loopback only, no web UI, no progress bars,
  Arrow on, and the environment set the way Spark's Python workers need it (``PYSPARK_PYTHON`` = this
  interpreter, ``SPARK_LOCAL_IP=127.0.0.1``) *before* the JVM starts. Start one per notebook and
  ``spark.stop()`` it at the end: start-up takes seconds.
* :func:`torch_predict_udf` - ``pyspark.ml.functions.predict_batch_udf`` for a PyTorch model saved as a
  ``state_dict``: each Python worker builds the model **once** (``torch.load(..., weights_only=True)``, no
  pickled code) and then sees batches of rows as NumPy arrays. :func:`spark_predict` runs it over a
  NumPy array and returns the outputs in input order (rows carry an ``id``; Spark does not keep order).
* :func:`ddp_train_fn` + :func:`run_torch_distributor` - ``TorchDistributor`` starting a short DDP training
  job (``torchrun`` under the hood). With ``local_mode=True`` only one rank's return value comes back, so
  the function returns values that are identical on every rank (all-reduced, or DDP-synchronised weights).

The model class must be importable by Spark's worker processes: here it is ``course_utils.models.Net``,
installed in the virtual environment with ``pip install -e .`` (on a cluster, ship the package with
``spark.sparkContext.addPyFile`` or install it on every node).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "get_spark",
    "make_torch_predict_fn",
    "torch_predict_udf",
    "spark_predict",
    "read_load_log",
    "ddp_train_fn",
    "run_torch_distributor",
]


def get_spark(cores: int = 2, app_name: str = "course", quiet: bool = True):
    """A local ``SparkSession`` with ``cores`` worker threads, bound to 127.0.0.1, UI off (notebook 10).

    Sets ``PYSPARK_PYTHON``/``PYSPARK_DRIVER_PYTHON`` to this interpreter (so workers import the same
    torch and course_utils) and ``SPARK_LOCAL_IP=127.0.0.1``, which must happen before the first session.
    ``quiet=True`` starts the JVM with its console output sent to /dev/null (Spark's start-up banner and
    log lines would otherwise land in the notebook; errors still reach Python as exceptions) and sets the
    log level to ERROR.
    """
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.default.parallelism", str(cores))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.python.worker.reuse", "true")
    )
    if quiet and SparkContext._active_spark_context is None:
        with _console_to_devnull():  # the JVM inherits these file descriptors for its whole life
            spark = builder.getOrCreate()
    else:
        spark = builder.getOrCreate()
    if quiet:
        spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextlib.contextmanager
def _console_to_devnull():
    """Point file descriptors 1 and 2 at /dev/null for the duration (child processes keep them)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def _import(path: str) -> Any:
    """``"package.module:Name"`` -> the object."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _torch_predict_fn(state_dict_path: str, model_class: str, input_shape: tuple[int, ...], load_log: str | None):
    """Runs once per Spark Python worker: build the model, load its weights safely, return ``predict``."""
    import torch

    model = _import(model_class)()
    model.load_state_dict(torch.load(state_dict_path, map_location="cpu", weights_only=True))
    model.eval()
    torch.set_num_threads(1)  # Spark already runs one task per core
    if load_log:
        with open(load_log, "a") as f:
            f.write(f"{os.getpid()} {time.time()}\n")

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x).reshape(-1, *input_shape)).numpy()

    return predict


def make_torch_predict_fn(
    state_dict_path: str | os.PathLike,
    model_class: str = "course_utils.models:Net",
    input_shape: tuple[int, ...] = (1, 28, 28),
    load_log: str | os.PathLike | None = None,
):
    """The ``make_predict_fn`` for ``predict_batch_udf``: a picklable callable that loads the model.

    ``load_log``, if given, is a file each load appends ``pid time`` to (to show: once per worker).
    """
    return functools.partial(
        _torch_predict_fn, str(state_dict_path), model_class, tuple(input_shape), str(load_log) if load_log else None
    )


def torch_predict_udf(
    state_dict_path: str | os.PathLike,
    batch_size: int = 256,
    model_class: str = "course_utils.models:Net",
    input_shape: tuple[int, ...] = (1, 28, 28),
    load_log: str | os.PathLike | None = None,
):
    """A ``predict_batch_udf`` column function: flat float32 rows in, one float array per row out (notebook 10)."""
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import ArrayType, FloatType

    n_in = int(np.prod(input_shape))
    return predict_batch_udf(
        make_torch_predict_fn(state_dict_path, model_class, input_shape, load_log),
        return_type=ArrayType(FloatType()),
        batch_size=batch_size,
        input_tensor_shapes=[[n_in]],
    )


def spark_predict(spark, udf, x: np.ndarray, partitions: int = 2) -> np.ndarray:
    """Run ``udf`` over the rows of ``x`` in ``partitions`` partitions; outputs in input order (notebook 10).

    Each row carries its index ``id``; the result is sorted by it on the driver (sorting inside Spark
    would add a shuffle and, for range partitioning, an extra pass over the data).
    """
    import pandas as pd

    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(len(x), -1)
    pdf = pd.DataFrame({"id": np.arange(len(flat), dtype=np.int64), "x": list(flat)})
    df = spark.createDataFrame(pdf)
    if df.rdd.getNumPartitions() != partitions:
        df = df.repartition(partitions)
    res = df.select("id", udf("x").alias("y")).toPandas()
    res = res.sort_values("id")
    if not np.array_equal(res["id"].to_numpy(), np.arange(len(flat))):
        raise RuntimeError("Spark lost or duplicated rows")
    return np.stack(res["y"].to_numpy()).astype(np.float32)


def read_load_log(path: str | os.PathLike) -> list[int]:
    """The process ids that loaded the model, one per load, from a ``load_log`` file."""
    p = Path(path)
    if not p.exists():
        return []
    return [int(line.split()[0]) for line in p.read_text().splitlines() if line.strip()]


def ddp_train_fn(steps: int = 30, batch_size: int = 64, lr: float = 0.05, seed: int = 0) -> dict:
    """A short DDP training job for ``TorchDistributor`` (notebook 10): ``Net`` on MNIST, gloo, CPU.

    Each rank trains on its own ``DistributedSampler`` shard. Returns, identically on every rank (only one
    rank's value survives ``local_mode=True``): the world size, the all-reduced mean loss of the first and
    last 5 steps, the largest difference of the weights between ranks (0 under DDP), and the weights.
    """
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP
    from torch.utils.data import DistributedSampler

    from .models import Net
    from .pipeline import load_mnist_tensors

    dist.init_process_group("gloo")  # TorchDistributor (torchrun) set MASTER_ADDR/PORT, RANK, WORLD_SIZE
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        torch.manual_seed(seed)
        model = DDP(Net())
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        x, y = load_mnist_tensors("train")
        sampler = DistributedSampler(range(len(x)), num_replicas=world, rank=rank, shuffle=True, seed=seed)
        order = torch.tensor(list(sampler))
        per_rank = batch_size // world
        losses = []
        model.train()
        for step in range(steps):
            idx = order[(step * per_rank) % len(order) :][:per_rank]
            loss = F.nll_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        k = min(5, steps)
        stats = torch.tensor([sum(losses[:k]) / k, sum(losses[-k:]) / k])
        dist.all_reduce(stats)
        stats /= world
        flat = torch.cat([p.detach().reshape(-1) for p in model.module.parameters()])
        spread = flat.clone()
        lo = flat.clone()
        dist.all_reduce(spread, op=dist.ReduceOp.MAX)
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        state = {k: v.detach().clone() for k, v in model.module.state_dict().items()}
        return {
            "world_size": world,
            "first_loss": stats[0].item(),
            "last_loss": stats[1].item(),
            "max_weight_diff_between_ranks": (spread - lo).abs().max().item(),
            "state_dict": state,
        }
    finally:
        dist.destroy_process_group()


def run_torch_distributor(num_processes: int = 2, **kwargs) -> dict:
    """Run :func:`ddp_train_fn` with ``TorchDistributor(num_processes, local_mode=True, use_gpu=False)``.

    Needs an active ``SparkSession`` (:func:`get_spark`). ``kwargs`` go to :func:`ddp_train_fn`.
    """
    from pyspark.ml.torch.distributor import TorchDistributor

    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # what torchrun would choose anyway, minus its banner about it
    try:
        dist = TorchDistributor(num_processes=num_processes, local_mode=True, use_gpu=False)
        dist.logger.setLevel(logging.WARNING)  # no "Started/Finished local training" INFO lines
        return dist.run(ddp_train_fn, **kwargs)
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved
