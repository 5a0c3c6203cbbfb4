"""Plausible wrong answers for notebooks/09_ddp_jobs.ipynb (see tests/test_wrong_answers.py)."""

# The exercise-2 worker, correct, with one marked line to replace per wrong answer.
_WORKER = """
def resumable_worker(rank, world_size, x, y, epochs, batch_size, lr, snapshot):
    env = [int(os.environ[name]) for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE")]
    device = rank_device()
    x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    torch.manual_seed(0)
    linear = torch.nn.Linear(x.shape[1], int(y.max()) + 1).double().to(device)
    optimizer = torch.optim.SGD(linear.parameters(), lr=lr, momentum=0.9)
    start = 0
    if os.path.exists(snapshot):
        start = load_checkpoint(snapshot, linear, optimizer, map_location=device)["epoch"] + 1  # RESUME
    model = DDP(linear)
    sampler = DistributedSampler(range(len(y)), num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    for epoch in range(start, epochs):
        sampler.set_epoch(epoch)  # SET_EPOCH
        for batch in torch.tensor(list(sampler)).split(batch_size):  # ORDER
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()  # STEP
        if rank == 0:
            save_checkpoint(snapshot, model, optimizer, epoch=epoch)
        dist.barrier()
    weights = torch.cat([p.detach().flatten().cpu() for p in linear.parameters()]).numpy()
    return {"env": env, "weights": weights}
"""


def _with(marker: str, line: str) -> str:
    """The worker with the line that carries ``# marker`` replaced by ``line`` (lines, same indentation)."""
    lines = _WORKER.splitlines()
    (i,) = [k for k, text in enumerate(lines) if text.endswith(f"# {marker}")]
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i] = "\n".join(indent + part for part in line.split("\n"))
    return "\n".join(lines) + "\n"


WRONG: dict[str, list[tuple[str, str]]] = {
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
    "resumable_worker": [
        (
            "delegates to the lesson's torchrun script",
            """
def resumable_worker(rank, world_size, x, y, epochs, batch_size, lr, snapshot):
    import sys

    sys.argv = ["train_ddp.py", "--epochs", str(epochs), "--snapshot", snapshot]
    return script.main()
""",
        ),
        (
            "no DistributedSampler: every rank trains on the whole data set in its own shuffled order",
            _with(
                "ORDER",
                "for batch in torch.randperm(len(y), generator=torch.Generator().manual_seed(epoch)).split(batch_size):",
            ),
        ),
        (
            "forgets sampler.set_epoch: every epoch repeats epoch 0's order",
            _with("SET_EPOCH", "pass"),
        ),
        (
            "adds its own all_reduce (sum) after DDP's average: the gradient is averaged twice",
            _with("STEP", "for p in model.parameters():\n    dist.all_reduce(p.grad)\noptimizer.step()"),
        ),
        (
            "never looks at the snapshot: the restart trains from scratch",
            _with("RESUME", "start = 0"),
        ),
        (
            "restores the model but not the optimizer: momentum restarts at zero",
            _with("RESUME", "start = load_checkpoint(snapshot, linear, map_location=device)['epoch'] + 1"),
        ),
        (
            "resumes at the snapshot's epoch, which is the last finished one: trains it again",
            _with(
                "RESUME", "start = load_checkpoint(snapshot, linear, optimizer, map_location=device)['epoch']"
            ),
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "node_and_local_rank": ["lesson"],
    "resumable_worker": ["lesson"],
}
