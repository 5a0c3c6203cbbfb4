"""One worker of a ``MultiWorkerMirroredStrategy`` job: ``python -m course_utils.tf_multiworker --out DIR``.

Taught in notebook 07 (started there by :func:`course_utils.tf_distributed.launch_multiworker`). Every
worker runs this same file; ``TF_CONFIG`` tells it the cluster and which task it is, e.g.::

    TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}, "task": {"type": "worker", "index": 0}}'

Worker 0 is the chief. Training is the custom loop of ``tf_distributed.make_train_step`` (Keras 3's
``model.fit`` fails under this strategy in TF 2.21). At the end each worker writes its weights to
``DIR/worker{i}_weights.npz`` (so the notebook can check all workers agree) and only the chief saves the
model, ``DIR/model.keras``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    """Join the cluster from ``TF_CONFIG``, train for ``--steps``, save (chief: the model)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--per-worker-batch", type=int, default=32)
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--threads", type=int, default=0, help="TF intra-/inter-op threads per worker (0: TF decides)")
    p.add_argument("--fit", action="store_true", help="use Keras model.fit instead (fails on TF 2.21 / Keras 3)")
    args = p.parse_args(argv)

    cfg = json.loads(os.environ["TF_CONFIG"])
    index = cfg["task"]["index"]
    task_type = cfg["task"]["type"]
    is_chief = task_type == "chief" or (task_type == "worker" and index == 0 and "chief" not in cfg["cluster"])

    import keras
    import numpy as np
    import tensorflow as tf

    from .data import load_mnist
    from .models import keras_cnn
    from .tf_distributed import make_dataset, make_train_step

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING  # NCCL on GPUs: .NCCL
        )
    )
    n_workers = strategy.num_replicas_in_sync
    global_batch = args.per_worker_batch * n_workers  # erratum 9: multiply, don't divide
    print(f"worker {index}: joined a cluster of {n_workers} worker(s); global batch {global_batch}", flush=True)

    images, labels = load_mnist(split="train")
    ds = make_dataset(images[: args.n_train], labels[: args.n_train], global_batch, shuffle=True, repeat=True, seed=0)
    keras.utils.set_random_seed(0)  # same initial weights on every worker (the strategy also syncs them)
    with strategy.scope():
        model = keras_cnn()
        optimizer = keras.optimizers.SGD(learning_rate=args.lr, momentum=0.9)
    if args.fit:  # the official tutorial's way; kept to show the failure
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        model.fit(ds, epochs=1, steps_per_epoch=args.steps, verbose=0)
        return
    step = make_train_step(strategy, model, optimizer, global_batch)
    it = iter(strategy.experimental_distribute_dataset(ds))
    for s in range(1, args.steps + 1):
        loss = float(step(next(it)))
        if s == 1 or s % 10 == 0 or s == args.steps:
            print(f"worker {index}: step {s:3d} loss {loss:.4f}", flush=True)

    weights = model.get_weights()
    np.savez(args.out / f"worker{index}_weights.npz", *weights)
    checksum = float(sum(np.sum(w, dtype=np.float64) for w in weights))
    print(f"worker {index}: done, weight checksum {checksum:.6f}", flush=True)
    if is_chief:
        path = args.out / "model.keras"
        model.save(path)
        print(f"worker {index} (chief): saved {path.name}", flush=True)


if __name__ == "__main__":
    main()
