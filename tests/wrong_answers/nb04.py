"""Plausible wrong answers for notebooks/04_mnist_data_pipeline.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "read_idx_any": [
        (
            "reads multi-byte elements in the machine's (little-endian) byte order",
            """
def read_idx_any(data):
    if data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file")
    types = {0x08: "u1", 0x09: "i1", 0x0B: "i2", 0x0C: "i4", 0x0D: "f4", 0x0E: "f8"}
    code, ndim = data[2], data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(types[code])
    payload = data[4 + 4 * ndim :]
    if len(payload) != int(np.prod(dims)) * dtype.itemsize:
        raise ValueError("truncated")
    return np.frombuffer(payload, dtype=dtype).reshape(dims)
""",
        ),
        (
            "right values, but hands back a big-endian array",
            """
def read_idx_any(data):
    if data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file")
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    code, ndim = data[2], data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(types[code])
    payload = data[4 + 4 * ndim :]
    if len(payload) != int(np.prod(dims)) * dtype.itemsize:
        raise ValueError("truncated")
    return np.frombuffer(payload, dtype=dtype).reshape(dims)
""",
        ),
        (
            "forgets to check the two zero bytes (a gzip file is read as IDX)",
            """
def read_idx_any(data):
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    code, ndim = data[2], data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(types[code])
    payload = data[4 + 4 * ndim :]
    if len(payload) != int(np.prod(dims)) * dtype.itemsize:
        raise ValueError("truncated")
    return np.frombuffer(payload, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))
""",
        ),
        (
            "reads as many elements as the header asks and ignores extra bytes",
            """
def read_idx_any(data):
    if data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file")
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    code, ndim = data[2], data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(types[code])
    out = np.frombuffer(data, dtype=dtype, count=int(np.prod(dims)), offset=4 + 4 * ndim)
    return out.reshape(dims).astype(dtype.newbyteorder("="))
""",
        ),
        (
            "always skips a 16-byte header (MNIST's images), whatever the number of dimensions",
            """
def read_idx_any(data):
    if data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file")
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    code, ndim = data[2], data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(types[code])
    payload = data[16:]
    if len(payload) != int(np.prod(dims)) * dtype.itemsize:
        raise ValueError("truncated")
    return np.frombuffer(payload, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))
""",
        ),
        (
            "treats every type as unsigned bytes",
            """
def read_idx_any(data):
    if data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    payload = data[4 + 4 * ndim :]
    if len(payload) < int(np.prod(dims)):
        raise ValueError("truncated")
    return np.frombuffer(payload, dtype=np.uint8)[: int(np.prod(dims))].reshape(dims)
""",
        ),
        (
            "delegates to the lesson's reader",
            """
def read_idx_any(data):
    return parse_idx(data)
""",
        ),
        (
            "delegates to course_utils.data.read_idx through a file",
            """
def read_idx_any(data):
    import tempfile
    from course_utils.data import read_idx
    path = tempfile.mktemp()
    open(path, "wb").write(data)
    return read_idx(path)
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
        (
            "delegates to the lesson's sampler_indices",
            """
def sampler_padding(n, world_size):
    shard = sampler_indices(n, world_size, 0, shuffle=False)
    return len(shard), len(shard) * world_size - n
""",
        ),
        (
            "asks PyTorch's DistributedSampler",
            """
def sampler_padding(n, world_size):
    per_rank = len(torch.utils.data.DistributedSampler(range(n), world_size, 0))
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
            "right values in float64 (no cast to float32)",
            """
def normalize_batch(images):
    return ((images / 255.0 - MNIST_MEAN) / MNIST_STD)[:, None, :, :]
""",
        ),
        (
            "delegates to course_utils.pipeline.normalize_images",
            """
def normalize_batch(images):
    return pipeline.normalize_images(images, "NCHW")
""",
        ),
        (
            "delegates with its own import of normalize_images",
            """
def normalize_batch(images):
    from course_utils.pipeline import normalize_images
    return normalize_images(images, "NCHW")
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "read_idx_any": ["lesson"],
    "sampler_padding": ["lesson"],
    "normalize_batch": ["lesson"],
}
