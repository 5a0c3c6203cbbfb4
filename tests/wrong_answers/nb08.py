"""Plausible wrong answers for notebooks/08_ddp_mechanics.ipynb (see tests/test_wrong_answers.py)."""

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
    "ddp_worker": [
        (
            "no DistributedSampler: every rank shuffles and trains on the whole data set",
            """
def ddp_worker(rank, world_size, x, y, epochs, batch_size, lr):
    device = rank_device()
    x, y = x.to(device), y.to(device)
    torch.manual_seed(0)
    linear = torch.nn.Linear(x.shape[1], int(y.max()) + 1).to(device)
    model = DDP(linear, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(epoch))
        for batch in order.split(batch_size):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()  # DDP averages
            optimizer.step()
    return torch.cat([p.detach().flatten().cpu() for p in linear.parameters()]).numpy()
""",
        ),
        (
            "forgets sampler.set_epoch: every epoch repeats epoch 0's order",
            """
def ddp_worker(rank, world_size, x, y, epochs, batch_size, lr):
    device = rank_device()
    x, y = x.to(device), y.to(device)
    sampler = DistributedSampler(range(len(y)), num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    torch.manual_seed(0)
    linear = torch.nn.Linear(x.shape[1], int(y.max()) + 1).to(device)
    model = DDP(linear, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        order = torch.tensor(list(sampler))
        for batch in order.split(batch_size):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()  # DDP averages
            optimizer.step()
    return torch.cat([p.detach().flatten().cpu() for p in linear.parameters()]).numpy()
""",
        ),
        (
            "adds its own all_reduce (sum) after DDP's: gradients twice the average",
            """
def ddp_worker(rank, world_size, x, y, epochs, batch_size, lr):
    device = rank_device()
    x, y = x.to(device), y.to(device)
    sampler = DistributedSampler(range(len(y)), num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    torch.manual_seed(0)
    linear = torch.nn.Linear(x.shape[1], int(y.max()) + 1).to(device)
    model = DDP(linear, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)  # the same new shuffle on every rank
        order = torch.tensor(list(sampler))
        for batch in order.split(batch_size):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()  # DDP averages
            for p in model.parameters():
                dist.all_reduce(p.grad)  # "sum the ranks' gradients"
            optimizer.step()
    return torch.cat([p.detach().flatten().cpu() for p in linear.parameters()]).numpy()
""",
        ),
        (
            "no DDP, a plain all_reduce of the gradients without dividing by world_size",
            """
def ddp_worker(rank, world_size, x, y, epochs, batch_size, lr):
    device = rank_device()
    x, y = x.to(device), y.to(device)
    sampler = DistributedSampler(range(len(y)), num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    torch.manual_seed(0)
    linear = torch.nn.Linear(x.shape[1], int(y.max()) + 1).to(device)
    model = linear
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)  # the same new shuffle on every rank
        order = torch.tensor(list(sampler))
        for batch in order.split(batch_size):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            for p in model.parameters():
                dist.all_reduce(p.grad)  # sum over the ranks
            optimizer.step()
    return torch.cat([p.detach().flatten().cpu() for p in linear.parameters()]).numpy()
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "ring_bytes_per_rank": ["2 (W-1)/W", "bytes per value"],
    "shard_gradients": ["np.split the rows", "2 / len(ys)", "own shard size"],
    "ddp_worker": ["DistributedSampler", "set_epoch", "average"],
}
