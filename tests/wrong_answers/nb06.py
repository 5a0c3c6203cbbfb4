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
            "one bias per layer instead of one per unit",
            """
def mlp_params(n_in, hidden, n_out):
    return n_in * hidden + 1 + hidden * n_out + 1
""",
        ),
        (
            "counts the biases of the inputs instead of the units",
            """
def mlp_params(n_in, hidden, n_out):
    return n_in * hidden + n_in + hidden * n_out + hidden
""",
        ),
        (
            "builds the model and asks Keras",
            """
def mlp_params(n_in, hidden, n_out):
    model = keras.Sequential([keras.Input((n_in,)), keras.layers.Dense(hidden), keras.layers.Dense(n_out)])
    return model.count_params()
""",
        ),
    ],
    "mlp_predict": [
        (
            "argmax over the batch axis",
            """
def mlp_predict(weights, images):
    kernel1, bias1, kernel2, bias2 = weights
    x = ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD).reshape(len(images), -1)
    return (np.maximum(x @ kernel1 + bias1, 0) @ kernel2 + bias2).argmax(axis=0)
""",
        ),
        (
            "forgets the ReLU of the hidden layer",
            """
def mlp_predict(weights, images):
    kernel1, bias1, kernel2, bias2 = weights
    x = ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD).reshape(len(images), -1)
    return ((x @ kernel1 + bias1) @ kernel2 + bias2).argmax(axis=1)
""",
        ),
        (
            "feeds the raw 0-255 pixels (no normalisation)",
            """
def mlp_predict(weights, images):
    kernel1, bias1, kernel2, bias2 = weights
    x = images.astype(np.float32).reshape(len(images), -1)
    return (np.maximum(x @ kernel1 + bias1, 0) @ kernel2 + bias2).argmax(axis=1)
""",
        ),
        (
            "forgets the output bias",
            """
def mlp_predict(weights, images):
    kernel1, bias1, kernel2, bias2 = weights
    x = ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD).reshape(len(images), -1)
    return (np.maximum(x @ kernel1 + bias1, 0) @ kernel2).argmax(axis=1)
""",
        ),
        (
            "delegates to Keras",
            """
def mlp_predict(weights, images):
    model = keras_mlp()
    model.set_weights(weights)
    return model.predict(pipeline.normalize_images(images, "NHW"), verbose=0).argmax(axis=1)
""",
        ),
    ],
    "first_batches": [
        (
            "shuffle buffer as large as a batch: only neighbouring examples mix",
            """
def first_batches(images, labels, batch_size):
    x = ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD)[..., None]
    ds = tf.data.Dataset.from_tensor_slices((x, labels.astype(np.int32)))
    ds = ds.shuffle(batch_size, reshuffle_each_iteration=True).batch(batch_size)
    (x1, y1), (x2, y2) = (next(iter(ds)) for _ in range(2))
    return x1.numpy(), y1.numpy(), x2.numpy(), y2.numpy()
""",
        ),
        (
            "batches first, then shuffles the batches",
            """
def first_batches(images, labels, batch_size):
    x = ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD)[..., None]
    ds = tf.data.Dataset.from_tensor_slices((x, labels.astype(np.int32)))
    ds = ds.batch(batch_size).shuffle(len(x), reshuffle_each_iteration=True)
    (x1, y1), (x2, y2) = (next(iter(ds)) for _ in range(2))
    return x1.numpy(), y1.numpy(), x2.numpy(), y2.numpy()
""",
        ),
        (
            "the same order every epoch (seeded, reshuffle_each_iteration=False)",
            """
def first_batches(images, labels, batch_size):
    x = ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD)[..., None]
    ds = tf.data.Dataset.from_tensor_slices((x, labels.astype(np.int32)))
    ds = ds.shuffle(len(x), seed=0, reshuffle_each_iteration=False).batch(batch_size)
    (x1, y1), (x2, y2) = (next(iter(ds)) for _ in range(2))
    return x1.numpy(), y1.numpy(), x2.numpy(), y2.numpy()
""",
        ),
        (
            "shuffles the images and the labels separately",
            """
def first_batches(images, labels, batch_size):
    x = ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD)[..., None]
    xs = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x))
    ys = tf.data.Dataset.from_tensor_slices(labels.astype(np.int32)).shuffle(len(x))
    ds = tf.data.Dataset.zip((xs, ys)).batch(batch_size)
    (x1, y1), (x2, y2) = (next(iter(ds)) for _ in range(2))
    return x1.numpy(), y1.numpy(), x2.numpy(), y2.numpy()
""",
        ),
        (
            "forgets to scale the pixels to [0, 1] before standardising",
            """
def first_batches(images, labels, batch_size):
    x = ((images.astype(np.float32) - MNIST_MEAN) / MNIST_STD)[..., None]
    ds = tf.data.Dataset.from_tensor_slices((x, labels.astype(np.int32)))
    ds = ds.shuffle(len(x), reshuffle_each_iteration=True).batch(batch_size)
    (x1, y1), (x2, y2) = (next(iter(ds)) for _ in range(2))
    return x1.numpy(), y1.numpy(), x2.numpy(), y2.numpy()
""",
        ),
        (
            "delegates to course_utils.pipeline.tf_dataset",
            """
def first_batches(images, labels, batch_size):
    ds = pipeline.tf_dataset(images, labels, batch_size, shuffle=True, layout="NHWC")
    (x1, y1), (x2, y2) = (next(iter(ds)) for _ in range(2))
    return x1.numpy(), y1.numpy(), x2.numpy(), y2.numpy()
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "mlp_params": ["lesson"],
    "mlp_predict": ["lesson"],
    "first_batches": ["lesson"],
}
