"""course_utils.tf_distributed: MirroredStrategy over 2 logical CPUs == 1 replica on the same global batch,
Keras fit under the strategy, and (slow) MultiWorkerMirroredStrategy with 2 local worker processes.

TensorFlow's logical devices can only be configured before TF initialises, and other tests in this
session may initialise it first, so the TF work runs in a fresh subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from course_utils import tf_distributed as td

_SCRIPT = textwrap.dedent(
    """
    import json
    from course_utils.devices import configure_tf_logical_cpus
    configure_tf_logical_cpus(2)
    import keras, numpy as np, tensorflow as tf
    from course_utils import tf_distributed as td
    from course_utils.data import load_mnist
    from course_utils.models import keras_cnn

    devices = td.mirrored_devices(2)
    two, one = tf.distribute.MirroredStrategy(devices), tf.distribute.MirroredStrategy(devices[:1])
    keras.utils.set_random_seed(0)
    w0 = keras_cnn(dropout=False).get_weights()
    images, labels = load_mnist(split="train")
    w2, l2 = td.train_k_steps_from(two, w0, images, labels, global_batch=32, steps=3)
    w1, l1 = td.train_k_steps_from(one, w0, images, labels, global_batch=32, steps=3)
    ips, hist = td.fit_throughput(two, images[:512], labels[:512], global_batch=64, epochs=1)
    print(json.dumps({
        "replicas": [two.num_replicas_in_sync, one.num_replicas_in_sync],
        "max_diff": max(float(np.abs(a - b).max()) for a, b in zip(w1, w2)),
        "moved": max(float(np.abs(a - b).max()) for a, b in zip(w0, w2)),
        "losses": [l1, l2], "fit_ips": ips, "fit_loss": hist["loss"],
    }))
    """
)


def test_tf_config_names_cluster_and_task():
    cfg = td.tf_config([1111, 2222], 1)
    assert cfg == {"cluster": {"worker": ["127.0.0.1:1111", "127.0.0.1:2222"]}, "task": {"type": "worker", "index": 1}}


@pytest.mark.slow
def test_two_replicas_equal_one_replica_and_fit_runs():
    p = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["replicas"] == [2, 1]
    assert out["max_diff"] < 1e-5 and out["moved"] > 1e-3
    np.testing.assert_allclose(out["losses"][0], out["losses"][1], atol=1e-5)
    assert out["fit_ips"] > 0 and np.isfinite(out["fit_loss"]).all()


@pytest.mark.slow
def test_multiworker_two_processes_agree_and_chief_saves(tmp_path):
    runs = td.launch_multiworker(tmp_path, 2, ["--steps", "6", "--n-train", "512"], timeout=500)
    assert [r.returncode for r in runs] == [0, 0], "\n".join(r.log[-2000:] for r in runs)
    assert all("joined a cluster of 2 worker(s); global batch 64" in r.log for r in runs)
    w0, w1 = np.load(tmp_path / "worker0_weights.npz"), np.load(tmp_path / "worker1_weights.npz")
    for k in w0.files:
        np.testing.assert_array_equal(w0[k], w1[k])
    assert (tmp_path / "model.keras").is_file()
    assert "(chief): saved model.keras" in runs[0].log and "saved" not in runs[1].log
