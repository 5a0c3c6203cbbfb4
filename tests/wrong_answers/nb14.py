"""Plausible wrong answers for notebooks/14_model_parallelism.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "min_micro_batches": [
        (
            ">= instead of >: stops only when the bubble is strictly below the limit",
            """
def min_micro_batches(p, max_bubble):
    m = 1
    while (p - 1) / (m + p - 1) >= max_bubble:
        m += 1
    return m
""",
        ),
        (
            "closed form truncated with int() instead of rounded up",
            """
def min_micro_batches(p, max_bubble):
    if max_bubble <= 0:
        return 1
    return max(int((p - 1) * (1 / max_bubble - 1)), 1)
""",
        ),
        (
            "the bubble formula off by one: (p - 1) / (m + p)",
            """
def min_micro_batches(p, max_bubble):
    m = 1
    while (p - 1) / (m + p) > max_bubble:
        m += 1
    return m
""",
        ),
    ],
    "column_parallel": [
        (
            "splits weight by input columns (row-parallel) but concatenates the shard outputs",
            """
def column_parallel(x, weight, bias, p, grad_out):
    w_cols, x_cols = np.split(weight, p, axis=1), np.split(x, p, axis=1)
    y = np.concatenate([xc @ wc.T + bias for xc, wc in zip(x_cols, w_cols)], axis=-1)
    grad_x = np.concatenate([grad_out @ wc for wc in w_cols], axis=-1)
    return y, grad_x, [grad_out.T @ xc for xc in x_cols], [grad_out.sum(axis=0)] * p
""",
        ),
        (
            "forgets the all-reduce: grad_x is one shard's part, not the sum over the shards",
            """
def column_parallel(x, weight, bias, p, grad_out):
    w_rows, b_rows = np.split(weight, p, axis=0), np.split(bias, p)
    y = np.concatenate([x @ w.T + b for w, b in zip(w_rows, b_rows)], axis=-1)
    g_rows = np.split(grad_out, p, axis=-1)
    grad_x = g_rows[0] @ w_rows[0]
    return y, grad_x, [g.T @ x for g in g_rows], [g.sum(axis=0) for g in g_rows]
""",
        ),
        (
            "all-gathers along the batch dimension (axis 0) instead of the features",
            """
def column_parallel(x, weight, bias, p, grad_out):
    w_rows, b_rows = np.split(weight, p, axis=0), np.split(bias, p)
    y = np.concatenate([x @ w.T + b for w, b in zip(w_rows, b_rows)], axis=0)
    g_rows = np.split(grad_out, p, axis=-1)
    grad_x = sum(g @ w for g, w in zip(g_rows, w_rows))
    return y, grad_x, [g.T @ x for g in g_rows], [g.sum(axis=0) for g in g_rows]
""",
        ),
        (
            "each shard's weight gradient from the whole grad_out (every shard gets the full gradient)",
            """
def column_parallel(x, weight, bias, p, grad_out):
    w_rows, b_rows = np.split(weight, p, axis=0), np.split(bias, p)
    y = np.concatenate([x @ w.T + b for w, b in zip(w_rows, b_rows)], axis=-1)
    g_rows = np.split(grad_out, p, axis=-1)
    grad_x = sum(g @ w for g, w in zip(g_rows, w_rows))
    return y, grad_x, [grad_out.T @ x] * p, [g.sum(axis=0) for g in g_rows]
""",
        ),
        (
            "delegation: runs the lesson's ColumnParallelLinear",
            """
def column_parallel(x, weight, bias, p, grad_out):
    layer = torch.nn.Linear(x.shape[1], len(weight), dtype=torch.float64)
    return ColumnParallelLinear(layer)(torch.tensor(x))
""",
        ),
    ],
    "tp_residual_worker": [
        (
            "f's backward is the identity too: each rank returns only its own part of dL/dx",
            """
def tp_residual_worker(rank, world_size, w1, b1, w2, b2, x, grad_y):
    class Leave(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            t = t.clone()
            dist.all_reduce(t)
            return t

        @staticmethod
        def backward(ctx, grad):
            return grad

    k = len(w1) // world_size
    mine = slice(rank * k, (rank + 1) * k)
    leaf = {"w1": w1[mine], "b1": b1[mine], "w2": w2[:, mine], "b2": b2, "x": x}
    t = {name: torch.tensor(a, requires_grad=True) for name, a in leaf.items()}
    h = torch.relu(t["x"] @ t["w1"].T + t["b1"])
    y = t["x"] + Leave.apply(h @ t["w2"].T) + t["b2"]
    y.backward(torch.tensor(grad_y))
    return {"y": y.detach().numpy(), **{f"{n}_grad": v.grad.numpy() for n, v in t.items()}}
""",
        ),
        (
            "f placed before the residual: the residual's gradient is all-reduced as well",
            """
def tp_residual_worker(rank, world_size, w1, b1, w2, b2, x, grad_y):
    class Enter(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t.view_as(t)

        @staticmethod
        def backward(ctx, grad):
            grad = grad.clone()
            dist.all_reduce(grad)
            return grad

    class Leave(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            t = t.clone()
            dist.all_reduce(t)
            return t

        @staticmethod
        def backward(ctx, grad):
            return grad

    k = len(w1) // world_size
    mine = slice(rank * k, (rank + 1) * k)
    leaf = {"w1": w1[mine], "b1": b1[mine], "w2": w2[:, mine], "b2": b2, "x": x}
    t = {name: torch.tensor(a, requires_grad=True) for name, a in leaf.items()}
    x_in = Enter.apply(t["x"])
    h = torch.relu(x_in @ t["w1"].T + t["b1"])
    y = x_in + Leave.apply(h @ t["w2"].T) + t["b2"]
    y.backward(torch.tensor(grad_y))
    return {"y": y.detach().numpy(), **{f"{n}_grad": v.grad.numpy() for n, v in t.items()}}
""",
        ),
        (
            "g's backward all-reduces as well: every weight gradient is world_size times too large",
            """
def tp_residual_worker(rank, world_size, w1, b1, w2, b2, x, grad_y):
    class Sum(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            t = t.clone()
            dist.all_reduce(t)
            return t

        @staticmethod
        def backward(ctx, grad):
            grad = grad.clone()
            dist.all_reduce(grad)
            return grad

    class Enter(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t.view_as(t)

        @staticmethod
        def backward(ctx, grad):
            grad = grad.clone()
            dist.all_reduce(grad)
            return grad

    k = len(w1) // world_size
    mine = slice(rank * k, (rank + 1) * k)
    leaf = {"w1": w1[mine], "b1": b1[mine], "w2": w2[:, mine], "b2": b2, "x": x}
    t = {name: torch.tensor(a, requires_grad=True) for name, a in leaf.items()}
    h = torch.relu(Enter.apply(t["x"]) @ t["w1"].T + t["b1"])
    y = t["x"] + Sum.apply(h @ t["w2"].T) + t["b2"]
    y.backward(torch.tensor(grad_y))
    return {"y": y.detach().numpy(), **{f"{n}_grad": v.grad.numpy() for n, v in t.items()}}
""",
        ),
        (
            "delegation: the lesson's f and g",
            """
def tp_residual_worker(rank, world_size, w1, b1, w2, b2, x, grad_y):
    k = len(w1) // world_size
    mine = slice(rank * k, (rank + 1) * k)
    leaf = {"w1": w1[mine], "b1": b1[mine], "w2": w2[:, mine], "b2": b2, "x": x}
    t = {name: torch.tensor(a, requires_grad=True) for name, a in leaf.items()}
    h = torch.relu(CopyToParallel.apply(t["x"]) @ t["w1"].T + t["b1"])
    y = t["x"] + ReduceFromParallel.apply(h @ t["w2"].T) + t["b2"]
    y.backward(torch.tensor(grad_y))
    return {"y": y.detach().numpy(), **{f"{n}_grad": v.grad.numpy() for n, v in t.items()}}
""",
        ),
    ],
    "zero1_worker": [
        (
            "clips by the norm of this rank's slice, not of the whole gradient",
            """
def zero1_worker(rank, world_size, w0, xs, ys, lr, momentum, max_norm):
    w = torch.tensor(w0, requires_grad=True)
    n, size = w.numel(), -(-w.numel() // world_size)
    mine = slice(rank * size, (rank + 1) * size)
    buf = torch.zeros(size, dtype=w.dtype)
    for x, y in zip(torch.tensor(xs), torch.tensor(ys)):
        w.grad = None
        F.mse_loss(x[rank::world_size] @ w, y[rank::world_size]).backward()
        grad, part = F.pad(w.grad.reshape(-1), (0, size * world_size - n)), w.new_empty(size)
        dist.reduce_scatter_single(part, grad)
        part /= world_size
        part *= min(1.0, max_norm / (part.norm().item() + 1e-6))
        buf = momentum * buf + part
        flat = F.pad(w.detach().reshape(-1), (0, size * world_size - n))
        full = w.new_empty(size * world_size)
        dist.all_gather_single(full, flat[mine] - lr * buf)
        w = full[:n].reshape(w.shape).clone().requires_grad_(True)
    return w.detach().numpy(), buf.numpy()
""",
        ),
        (
            "sums the gradients over the ranks without dividing by the world size",
            """
def zero1_worker(rank, world_size, w0, xs, ys, lr, momentum, max_norm):
    w = torch.tensor(w0, requires_grad=True)
    n, size = w.numel(), -(-w.numel() // world_size)
    mine = slice(rank * size, (rank + 1) * size)
    buf = torch.zeros(size, dtype=w.dtype)
    for x, y in zip(torch.tensor(xs), torch.tensor(ys)):
        w.grad = None
        F.mse_loss(x[rank::world_size] @ w, y[rank::world_size]).backward()
        grad, part = F.pad(w.grad.reshape(-1), (0, size * world_size - n)), w.new_empty(size)
        dist.reduce_scatter_single(part, grad)
        square = (part**2).sum()
        dist.all_reduce(square)
        part *= min(1.0, max_norm / (square.sqrt().item() + 1e-6))
        buf = momentum * buf + part
        flat = F.pad(w.detach().reshape(-1), (0, size * world_size - n))
        full = w.new_empty(size * world_size)
        dist.all_gather_single(full, flat[mine] - lr * buf)
        w = full[:n].reshape(w.shape).clone().requires_grad_(True)
    return w.detach().numpy(), buf.numpy()
""",
        ),
        (
            "no all-gather: each rank updates its own slice and keeps the others' stale",
            """
def zero1_worker(rank, world_size, w0, xs, ys, lr, momentum, max_norm):
    w = torch.tensor(w0, requires_grad=True)
    n, size = w.numel(), -(-w.numel() // world_size)
    mine = slice(rank * size, (rank + 1) * size)
    buf = torch.zeros(size, dtype=w.dtype)
    for x, y in zip(torch.tensor(xs), torch.tensor(ys)):
        w.grad = None
        F.mse_loss(x[rank::world_size] @ w, y[rank::world_size]).backward()
        grad, part = F.pad(w.grad.reshape(-1), (0, size * world_size - n)), w.new_empty(size)
        dist.reduce_scatter_single(part, grad)
        part /= world_size
        square = (part**2).sum()
        dist.all_reduce(square)
        part *= min(1.0, max_norm / (square.sqrt().item() + 1e-6))
        buf = momentum * buf + part
        flat = F.pad(w.detach().reshape(-1), (0, size * world_size - n))
        flat[mine] -= lr * buf
        w = flat[:n].reshape(w.shape).clone().requires_grad_(True)
    return w.detach().numpy(), buf.numpy()
""",
        ),
        (
            "plain data parallelism: all-reduces the whole gradient and keeps the whole momentum buffer",
            """
def zero1_worker(rank, world_size, w0, xs, ys, lr, momentum, max_norm):
    w = torch.tensor(w0, requires_grad=True)
    buf = torch.zeros_like(w)
    for x, y in zip(torch.tensor(xs), torch.tensor(ys)):
        w.grad = None
        F.mse_loss(x[rank::world_size] @ w, y[rank::world_size]).backward()
        grad = w.grad.clone()
        dist.all_reduce(grad)
        grad /= world_size
        grad *= min(1.0, max_norm / (grad.norm().item() + 1e-6))
        buf = momentum * buf + grad
        w = (w.detach() - lr * buf).requires_grad_(True)
    return w.detach().numpy(), buf.reshape(-1).numpy()
""",
        ),
        (
            "delegation: the lesson's ZeroAdam",
            """
def zero1_worker(rank, world_size, w0, xs, ys, lr, momentum, max_norm):
    w = torch.nn.Parameter(torch.tensor(w0))
    opt = ZeroAdam([w], lr)
    for x, y in zip(torch.tensor(xs), torch.tensor(ys)):
        opt.zero_grad()
        F.mse_loss(x[rank::world_size] @ w, y[rank::world_size]).backward()
        opt.step()
    return w.detach().numpy(), opt.slice.detach().numpy()
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "min_micro_batches": ["section 2", "at or below the limit"],
    "column_parallel": ["lesson"],
    "tp_residual_worker": ["lesson"],
    "zero1_worker": ["lesson"],
}
