"""Plausible wrong answers for notebooks/08_ddp.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "ring_bytes_per_rank": [
        (
            "only the reduce-scatter half (forgets the all-gather)",
            """
def ring_bytes_per_rank(world_size, n_params, bytes_per_value=4):
    return (world_size - 1) / world_size * n_params * bytes_per_value
""",
        ),
        (
            "W - 1 whole vectors instead of chunks of 1/W",
            """
def ring_bytes_per_rank(world_size, n_params, bytes_per_value=4):
    return 2 * (world_size - 1) * n_params * bytes_per_value
""",
        ),
        (
            "counts values, not bytes",
            """
def ring_bytes_per_rank(world_size, n_params, bytes_per_value=4):
    return 2 * (world_size - 1) / world_size * n_params
""",
        ),
        (
            "2 / W chunks: a single process would still send",
            """
def ring_bytes_per_rank(world_size, n_params, bytes_per_value=4):
    return 2 / world_size * n_params * bytes_per_value
""",
        ),
    ],
    "node_and_local_rank": [
        (
            "results in the wrong order (local rank first)",
            """
def node_and_local_rank(rank, nproc_per_node):
    return rank % nproc_per_node, rank // nproc_per_node
""",
        ),
        (
            "true division gives a fractional node",
            """
def node_and_local_rank(rank, nproc_per_node):
    return rank / nproc_per_node, rank % nproc_per_node
""",
        ),
        (
            "local rank as rank minus the node index",
            """
def node_and_local_rank(rank, nproc_per_node):
    node = rank // nproc_per_node
    return node, rank - node
""",
        ),
    ],
    "shard_gradients": [
        (
            "divides by the global batch size instead of the shard's",
            """
def shard_gradients(X, y, w, world_size):
    grads = []
    for Xs, ys in zip(np.split(X, world_size), np.split(y, world_size), strict=True):
        grads.append(2 / len(y) * Xs.T @ (Xs @ w - ys))
    return grads
""",
        ),
        (
            "forgets the factor 2 of the squared error",
            """
def shard_gradients(X, y, w, world_size):
    grads = []
    for Xs, ys in zip(np.split(X, world_size), np.split(y, world_size), strict=True):
        grads.append(1 / len(ys) * Xs.T @ (Xs @ w - ys))
    return grads
""",
        ),
        (
            "every rank takes the first shard (forgets its offset)",
            """
def shard_gradients(X, y, w, world_size):
    size = len(y) // world_size
    return [2 / size * X[:size].T @ (X[:size] @ w - y[:size]) for _ in range(world_size)]
""",
        ),
        (
            "the sum of squared errors (no division by the shard size)",
            """
def shard_gradients(X, y, w, world_size):
    grads = []
    for Xs, ys in zip(np.split(X, world_size), np.split(y, world_size), strict=True):
        grads.append(2 * Xs.T @ (Xs @ w - ys))
    return grads
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "ring_bytes_per_rank": ["2 (W-1)/W", "bytes per value"],
    "node_and_local_rank": ["integer division", "remainder"],
    "shard_gradients": ["np.split the rows", "2 / len(ys)", "own shard size"],
}
