"""Plausible wrong answers for notebooks/06_single_device_tensorflow.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "mlp_params": [
        (
            "forgets the biases",
            """
def mlp_params(n_in, hidden, n_out):
    return n_in * hidden + hidden * n_out
""",
        ),
        (
            "forgets the output layer's biases",
            """
def mlp_params(n_in, hidden, n_out):
    return n_in * hidden + hidden + hidden * n_out
""",
        ),
        (
            "one bias per input instead of per unit",
            """
def mlp_params(n_in, hidden, n_out):
    return n_in * hidden + n_in + hidden * n_out + hidden
""",
        ),
    ],
    "predict_classes": [
        (
            "argmax over the batch axis (axis 0)",
            """
def predict_classes(model, x):
    return np.argmax(model.predict(x, verbose=0), axis=0)
""",
        ),
        (
            "the largest probability instead of its index",
            """
def predict_classes(model, x):
    return np.max(model.predict(x, verbose=0), axis=1)
""",
        ),
        (
            "returns the probabilities themselves",
            """
def predict_classes(model, x):
    return model.predict(x, verbose=0)
""",
        ),
    ],
    "make_train_dataset": [
        (
            "forgets to reshuffle: the same order every epoch",
            """
def make_train_dataset(images, labels, batch_size):
    x = normalize_images(images, "NHWC")
    ds = tf.data.Dataset.from_tensor_slices((x, labels.astype(np.int32)))
    return ds.shuffle(len(x), reshuffle_each_iteration=False).batch(batch_size)
""",
        ),
        (
            "no shuffle at all",
            """
def make_train_dataset(images, labels, batch_size):
    x = normalize_images(images, "NHWC")
    ds = tf.data.Dataset.from_tensor_slices((x, labels.astype(np.int32)))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
""",
        ),
        (
            "shuffles images and labels separately: pairs are broken",
            """
def make_train_dataset(images, labels, batch_size):
    x = normalize_images(images, "NHWC")
    xs = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x))
    ys = tf.data.Dataset.from_tensor_slices(labels.astype(np.int32)).shuffle(len(x))
    return tf.data.Dataset.zip((xs, ys)).batch(batch_size)
""",
        ),
        (
            "batches before shuffling: only the batch order changes",
            """
def make_train_dataset(images, labels, batch_size):
    x = normalize_images(images, "NHWC")
    ds = tf.data.Dataset.from_tensor_slices((x, labels.astype(np.int32)))
    return ds.batch(batch_size).shuffle(len(x), reshuffle_each_iteration=True)
""",
        ),
        (
            "NHW layout: forgets the channel axis",
            """
def make_train_dataset(images, labels, batch_size):
    x = normalize_images(images, "NHW")
    ds = tf.data.Dataset.from_tensor_slices((x, labels.astype(np.int32)))
    return ds.shuffle(len(x), reshuffle_each_iteration=True).batch(batch_size)
""",
        ),
        (
            "drop_remainder=True loses the last partial batch",
            """
def make_train_dataset(images, labels, batch_size):
    x = normalize_images(images, "NHWC")
    ds = tf.data.Dataset.from_tensor_slices((x, labels.astype(np.int32)))
    return ds.shuffle(len(x)).batch(batch_size, drop_remainder=True)
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "mlp_params": ["biases"],
    "predict_classes": ["argmax over axis 1"],
    "make_train_dataset": ["reshuffle_each_iteration=True", "before batching"],
}
