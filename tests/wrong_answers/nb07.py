"""Plausible wrong answers for notebooks/07_mirrored_strategy.ipynb (see tests/test_wrong_answers.py)."""

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
    ],
    "train_mirrored": [
        (
            "the local mean (tf.reduce_mean) per replica: the summed update is N times too large",
            """
def train_mirrored(devices, x, y, global_batch, steps, lr):
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():  # mirrored variables: model and optimizer are created here
        model = ex_model()
        optimizer = keras.optimizers.SGD(learning_rate=lr)
        optimizer.build(model.trainable_variables)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch, drop_remainder=True).take(steps)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(yb, logits, from_logits=True)
            loss = tf.reduce_mean(per_example)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))

    @tf.function
    def step(batch):
        strategy.run(replica_step, args=batch)

    for batch in strategy.experimental_distribute_dataset(ds):
        step(batch)
    return strategy.num_replicas_in_sync, model.get_weights()
""",
        ),
        (
            "divides the global batch by the replicas (erratum 9): each step sees half the batch",
            """
def train_mirrored(devices, x, y, global_batch, steps, lr):
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():  # mirrored variables: model and optimizer are created here
        model = ex_model()
        optimizer = keras.optimizers.SGD(learning_rate=lr)
        optimizer.build(model.trainable_variables)
    per_step = global_batch // strategy.num_replicas_in_sync
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(per_step, drop_remainder=True).take(steps)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(yb, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=per_step)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))

    @tf.function
    def step(batch):
        strategy.run(replica_step, args=batch)

    for batch in strategy.experimental_distribute_dataset(ds):
        step(batch)
    return strategy.num_replicas_in_sync, model.get_weights()
""",
        ),
        (
            "model and optimizer created outside strategy.scope(): not mirrored",
            """
def train_mirrored(devices, x, y, global_batch, steps, lr):
    strategy = tf.distribute.MirroredStrategy(devices)
    model = ex_model()
    optimizer = keras.optimizers.SGD(learning_rate=lr)
    optimizer.build(model.trainable_variables)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch, drop_remainder=True).take(steps)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(yb, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))

    @tf.function
    def step(batch):
        strategy.run(replica_step, args=batch)

    for batch in strategy.experimental_distribute_dataset(ds):
        step(batch)
    return strategy.num_replicas_in_sync, model.get_weights()
""",
        ),
        (
            "only the optimizer inside the scope; the model's variables are not mirrored",
            """
def train_mirrored(devices, x, y, global_batch, steps, lr):
    strategy = tf.distribute.MirroredStrategy(devices)
    model = ex_model()
    with strategy.scope():
        optimizer = keras.optimizers.SGD(learning_rate=lr)
        optimizer.build(model.trainable_variables)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch, drop_remainder=True).take(steps)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(yb, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))

    @tf.function
    def step(batch):
        strategy.run(replica_step, args=batch)

    for batch in strategy.experimental_distribute_dataset(ds):
        step(batch)
    return strategy.num_replicas_in_sync, model.get_weights()
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "batch_plan": ["multiply", "full global batches"],
    "replica_loss": ["GLOBAL batch size"],
    "make_tf_config": ["cluster", "task"],
    "train_mirrored": ["strategy.scope()", "GLOBAL batch", "compute_average_loss"],
}
