"""Plausible wrong answers for notebooks/08_ddp_mechanics.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "ring_bytes_per_rank": [
        (
            "delegates to the lesson's simulated ring and counts what it sent",
            """
def ring_bytes_per_rank(world_size, n_params, bytes_per_value=4):
    return ring_allreduce([np.zeros(n_params)] * world_size)[1][0] * bytes_per_value
""",
        ),
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
        (
            "whole chunks only (integer division of the vector)",
            """
def ring_bytes_per_rank(world_size, n_params, bytes_per_value=4):
    return 2 * (world_size - 1) * (n_params // world_size) * bytes_per_value
""",
        ),
    ],
    "shard_gradients": [
        (
            "delegates to the lesson's batch_gradient",
            """
def shard_gradients(X, y, w, world_size):
    return [batch_gradient(Xs, ys) for Xs, ys in zip(np.split(X, world_size), np.split(y, world_size))]
""",
        ),
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
            "interleaved shards (rows r, r + W, ...) instead of contiguous blocks",
            """
def shard_gradients(X, y, w, world_size):
    return [2 / len(y[r::world_size]) * X[r::world_size].T @ (X[r::world_size] @ w - y[r::world_size])
            for r in range(world_size)]
""",
        ),
    ],
    "uneven_steps": [
        (
            "delegates to the lesson's train_shard",
            """
def uneven_steps(rank, world_size, x, y, sizes, batch_size, lr, w0):
    return train_shard(rank, world_size, batch_size, ["join"])["join"]["weights"]
""",
        ),
        (
            "equal step counts (MIN over the ranks): the longer shard's last batches are left out",
            """
def uneven_steps(rank, world_size, x, y, sizes, batch_size, lr, w0):
    device = rank_device()
    start = sum(sizes[:rank])
    xs = torch.from_numpy(x[start : start + sizes[rank]]).to(device)
    ys = torch.from_numpy(y[start : start + sizes[rank]]).to(device)
    w = torch.tensor(w0, device=device, requires_grad=True)
    steps = torch.tensor([-(-sizes[rank] // batch_size)], device=device)
    dist.all_reduce(steps, op=dist.ReduceOp.MIN)
    for s in range(int(steps)):
        xb, yb = xs[s * batch_size : (s + 1) * batch_size], ys[s * batch_size : (s + 1) * batch_size]
        (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xb @ w.T, yb, reduction="sum"), w)
        count = torch.tensor([float(len(yb))], dtype=torch.float64, device=device)
        dist.all_reduce(grad)
        dist.all_reduce(count)
        with torch.no_grad():
            w -= lr * grad / count
    return w.detach().cpu().numpy()
""",
        ),
        (
            "DDP's average of the ranks' mean losses (Join's weighting): a 2-image batch weighs as much as 8",
            """
def uneven_steps(rank, world_size, x, y, sizes, batch_size, lr, w0):
    device = rank_device()
    start = sum(sizes[:rank])
    xs = torch.from_numpy(x[start : start + sizes[rank]]).to(device)
    ys = torch.from_numpy(y[start : start + sizes[rank]]).to(device)
    w = torch.tensor(w0, device=device, requires_grad=True)
    steps = torch.tensor([-(-sizes[rank] // batch_size)], device=device)
    dist.all_reduce(steps, op=dist.ReduceOp.MAX)
    for s in range(int(steps)):
        xb, yb = xs[s * batch_size : (s + 1) * batch_size], ys[s * batch_size : (s + 1) * batch_size]
        if len(yb):
            (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xb @ w.T, yb), w)
        else:
            grad = torch.zeros_like(w)
        dist.all_reduce(grad)
        with torch.no_grad():
            w -= lr * grad / world_size
    return w.detach().cpu().numpy()
""",
        ),
        (
            "divides the step's summed gradient by the image count and again by the world size",
            """
def uneven_steps(rank, world_size, x, y, sizes, batch_size, lr, w0):
    device = rank_device()
    start = sum(sizes[:rank])
    xs = torch.from_numpy(x[start : start + sizes[rank]]).to(device)
    ys = torch.from_numpy(y[start : start + sizes[rank]]).to(device)
    w = torch.tensor(w0, device=device, requires_grad=True)
    steps = torch.tensor([-(-sizes[rank] // batch_size)], device=device)
    dist.all_reduce(steps, op=dist.ReduceOp.MAX)
    for s in range(int(steps)):
        xb, yb = xs[s * batch_size : (s + 1) * batch_size], ys[s * batch_size : (s + 1) * batch_size]
        (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xb @ w.T, yb, reduction="sum"), w)
        count = torch.tensor([float(len(yb))], dtype=torch.float64, device=device)
        dist.all_reduce(grad)
        dist.all_reduce(count)
        with torch.no_grad():
            w -= lr * grad / count / world_size
    return w.detach().cpu().numpy()
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "ring_bytes_per_rank": ["lesson"],
    "shard_gradients": ["lesson"],
    "uneven_steps": ["lesson"],
}
