"""Plausible wrong answers for notebooks/04_mnist_data_pipeline.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "parse_idx_header": [
        (
            "native (little-endian) byte order",
            """
def parse_idx_header(header):
    if header[0] != 0 or header[1] != 0:
        raise ValueError("not an IDX file")
    code, ndim = header[2], header[3]
    return code, tuple(struct.unpack(f"<{ndim}I", header[4 : 4 + 4 * ndim]))
""",
        ),
        (
            "type and dimension count swapped (bytes 3 and 2)",
            """
def parse_idx_header(header):
    if header[0] != 0 or header[1] != 0:
        raise ValueError("not an IDX file")
    ndim, code = header[2], header[3]
    return code, tuple(struct.unpack(f">{ndim}I", header[4 : 4 + 4 * ndim]))
""",
        ),
        (
            "forgets to check the magic zeros (a gzip file is parsed as IDX)",
            """
def parse_idx_header(header):
    code, ndim = header[2], header[3]
    return code, tuple(struct.unpack(f">{ndim}I", header[4 : 4 + 4 * ndim]))
""",
        ),
        (
            "dimensions start right after the type byte (off by one)",
            """
def parse_idx_header(header):
    if header[0] != 0 or header[1] != 0:
        raise ValueError("not an IDX file")
    code, ndim = header[2], header[3]
    return code, tuple(struct.unpack(f">{ndim}I", header[3 : 3 + 4 * ndim]))
""",
        ),
    ],
    "sampler_padding": [
        (
            "floor division: drops the remainder instead of padding",
            """
def sampler_padding(n, world_size):
    per_rank = n // world_size
    return per_rank, 0
""",
        ),
        (
            "the repeats are n % world_size",
            """
def sampler_padding(n, world_size):
    per_rank = -(-n // world_size)
    return per_rank, n % world_size
""",
        ),
        (
            "ceil as n // world_size + 1 (wrong when it divides evenly)",
            """
def sampler_padding(n, world_size):
    per_rank = n // world_size + 1
    return per_rank, per_rank * world_size - n
""",
        ),
    ],
    "normalize_batch": [
        (
            "standardises the 0..255 values (forgets / 255)",
            """
def normalize_batch(images):
    x = images.astype(np.float32)
    return ((x - MNIST_MEAN) / MNIST_STD)[:, None, :, :]
""",
        ),
        (
            "channel axis last (Keras' NHWC)",
            """
def normalize_batch(images):
    x = images.astype(np.float32) / 255.0
    return ((x - MNIST_MEAN) / MNIST_STD)[..., None]
""",
        ),
        (
            "multiplies by the std instead of dividing",
            """
def normalize_batch(images):
    x = images.astype(np.float32) / 255.0
    return ((x - MNIST_MEAN) * MNIST_STD)[:, None, :, :]
""",
        ),
        (
            "forgets the mean: only scales",
            """
def normalize_batch(images):
    x = images.astype(np.float32) / 255.0
    return (x / MNIST_STD)[:, None, :, :]
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "parse_idx_header": ["big-endian", "ValueError"],
    "sampler_padding": ["ceil(n / world_size)"],
    "normalize_batch": ["255", "x[:, None]"],
}
