"""Plausible wrong answers for notebooks/07_mirrored_strategy.ipynb (see tests/test_wrong_answers.py)."""

_WEIGHTED = """
def train_weighted(devices, x, y, w, global_batch, steps, lr):
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = ex_model()
        optimizer = keras.optimizers.SGD(learning_rate=lr)
        optimizer.build(model.trainable_variables)
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(global_batch, drop_remainder=True).take(steps)

    def replica_step(xb, yb, wb):
        with tf.GradientTape() as tape:
            per_example = keras.losses.sparse_categorical_crossentropy(yb, model(xb, training=True), from_logits=True)
            loss = LOSS
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def step(batch):
        return strategy.experimental_local_results(strategy.run(replica_step, args=batch))

    losses = [[float(v) for v in step(batch)] for batch in strategy.experimental_distribute_dataset(ds)]
    return np.array(losses), model.get_weights()
"""


def _weighted(loss: str) -> str:
    return _WEIGHTED.replace("LOSS", loss)


WRONG: dict[str, list[tuple[str, str]]] = {
    "batch_plan": [
        (
            "divides the per-replica batch by the replicas",
            """
def batch_plan(n_examples, per_replica, replicas):
    global_batch = per_replica // replicas
    return global_batch, n_examples // global_batch
""",
        ),
        (
            "counts the last partial batch (ceil)",
            """
def batch_plan(n_examples, per_replica, replicas):
    global_batch = per_replica * replicas
    return global_batch, -(-n_examples // global_batch)
""",
        ),
        (
            "steps counted with the per-replica batch",
            """
def batch_plan(n_examples, per_replica, replicas):
    return per_replica * replicas, n_examples // per_replica
""",
        ),
    ],
    "replica_loss": [
        (
            "the local mean: divides by len(per_example)",
            """
def replica_loss(per_example, global_batch_size):
    return float(np.mean(per_example))
""",
        ),
        (
            "the local mean halved: right only for two replicas with equal slices",
            """
def replica_loss(per_example, global_batch_size):
    return float(np.mean(per_example) / 2)
""",
        ),
        (
            "the local mean divided by the number of replicas, guessed from the slice size",
            """
def replica_loss(per_example, global_batch_size):
    replicas = global_batch_size // len(per_example)
    return float(np.mean(per_example) / replicas)
""",
        ),
        (
            "mean, then divided by the global batch again",
            """
def replica_loss(per_example, global_batch_size):
    return float(np.mean(per_example) / global_batch_size)
""",
        ),
        (
            "the sum without any division",
            """
def replica_loss(per_example, global_batch_size):
    return float(np.sum(per_example))
""",
        ),
        (
            "delegation: TensorFlow's compute_average_loss, the check's oracle",
            """
def replica_loss(per_example, global_batch_size):
    return float(tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size))
""",
        ),
    ],
    "make_tf_config": [
        (
            "returns the JSON string TF_CONFIG holds instead of the dict",
            """
def make_tf_config(hosts, index):
    import json

    return json.dumps({"cluster": {"worker": list(hosts)}, "task": {"type": "worker", "index": index}})
""",
        ),
        (
            "the first worker typed as chief",
            """
def make_tf_config(hosts, index):
    kind = "chief" if index == 0 else "worker"
    return {"cluster": {"worker": list(hosts)}, "task": {"type": kind, "index": index}}
""",
        ),
        (
            "the cluster lists only this worker's own address",
            """
def make_tf_config(hosts, index):
    return {"cluster": {"worker": [hosts[index]]}, "task": {"type": "worker", "index": index}}
""",
        ),
        (
            "delegation: the lesson's tf_config, then the addresses patched in",
            """
def make_tf_config(hosts, index):
    config = tf_config([0] * len(hosts), index)
    config["cluster"]["worker"] = list(hosts)
    return config
""",
        ),
    ],
    "train_weighted": [
        (
            "each replica's weighted mean over its own slice: the scale is local, the strategy sums",
            _weighted("tf.reduce_sum(wb * per_example) / tf.reduce_sum(wb)"),
        ),
        (
            "compute_average_loss with sample_weight: divides by the number of examples, not the weights",
            _weighted(
                "tf.nn.compute_average_loss(per_example, sample_weight=wb, global_batch_size=global_batch)"
            ),
        ),
        (
            "the lesson's loss, the example weights forgotten",
            _weighted("tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)"),
        ),
        (
            "the global weight sum taken from the first global batch for every step",
            _weighted("tf.reduce_sum(wb * per_example) / float(w[:global_batch].sum())"),
        ),
        (
            "no strategy.run: the whole batch on one device under the scope, one 'replica' loss per step",
            """
def train_weighted(devices, x, y, w, global_batch, steps, lr):
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = ex_model()
        optimizer = keras.optimizers.SGD(learning_rate=lr)
        optimizer.build(model.trainable_variables)
    losses = []
    for s in range(steps):
        xb, yb, wb = (a[s * global_batch : (s + 1) * global_batch] for a in (x, y, w))
        with tf.GradientTape() as tape:
            per_example = keras.losses.sparse_categorical_crossentropy(yb, model(xb), from_logits=True)
            loss = tf.reduce_sum(wb * per_example) / wb.sum()
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        losses.append([float(loss)])
    return np.array(losses), model.get_weights()
""",
        ),
        (
            "Keras fit with sample_weight under the strategy instead of a strategy.run step",
            """
def train_weighted(devices, x, y, w, global_batch, steps, lr):
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = ex_model()
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=loss)
    n = steps * global_batch
    model.fit(x[:n], y[:n], sample_weight=w[:n], batch_size=global_batch, shuffle=False, verbose=0)
    return np.zeros((steps, strategy.num_replicas_in_sync)), model.get_weights()
""",
        ),
        (
            "delegation: the lesson's make_train_step, the example weights dropped",
            """
def train_weighted(devices, x, y, w, global_batch, steps, lr):
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = ex_model()
        optimizer = keras.optimizers.SGD(learning_rate=lr)
        optimizer.build(model.trainable_variables)
    step = make_train_step(strategy, model, optimizer, global_batch)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch, drop_remainder=True).take(steps)
    losses = [[float(step(batch))] for batch in strategy.experimental_distribute_dataset(ds)]
    return np.array(losses), model.get_weights()
""",
        ),
    ],
}

# Every FAIL message names the lesson (each hint sends the learner back to a section of it; a delegation
# message says "from the lesson").
HINT_WORDS: dict[str, list[str]] = {
    "batch_plan": ["GLOBAL batch", "full global batches"],
    "replica_loss": ["lesson"],
    "make_tf_config": ["lesson"],
    "train_weighted": ["lesson"],
}
