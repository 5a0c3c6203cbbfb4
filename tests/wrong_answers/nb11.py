"""Plausible wrong answers for notebooks/11_distributed_inference.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "weighted_ranges": [
        (
            "rounds every share on its own: the sizes need not add up to n",
            """
def weighted_ranges(n, speeds):
    sizes = [round(n * s / sum(speeds)) for s in speeds]
    bounds = [sum(sizes[:r]) for r in range(len(sizes) + 1)]
    return list(zip(bounds[:-1], bounds[1:]))
""",
        ),
        (
            "an even split, as in the lesson: ignores the speeds",
            """
def weighted_ranges(n, speeds):
    w = len(speeds)
    return [(r * n // w, (r + 1) * n // w) for r in range(w)]
""",
        ),
        (
            "floors every share and gives all the leftover rows to the last rank",
            """
def weighted_ranges(n, speeds):
    sizes = [int(n * s / sum(speeds)) for s in speeds]
    sizes[-1] += n - sum(sizes)
    bounds = [sum(sizes[:r]) for r in range(len(sizes) + 1)]
    return list(zip(bounds[:-1], bounds[1:]))
""",
        ),
        (
            "delegates to the lesson's split_rows",
            """
def weighted_ranges(n, speeds):
    return split_rows(n, len(speeds))
""",
        ),
    ],
    "padded_duplicates": [
        (
            "the remainder n % N instead of the padding",
            """
def padded_duplicates(n, world_size):
    return n % world_size
""",
        ),
        (
            "N - n % N: forgets that an even split needs no padding",
            """
def padded_duplicates(n, world_size):
    return world_size - n % world_size
""",
        ),
        (
            "ceil as n // N + 1",
            """
def padded_duplicates(n, world_size):
    return (n // world_size + 1) * world_size - n
""",
        ),
        (
            "asks the sampler instead of reasoning",
            """
def padded_duplicates(n, world_size):
    return len(DistributedSampler(range(n), world_size, 0)) * world_size - n
""",
        ),
    ],
    "sampler_predict_worker": [
        (
            "concatenates the gathered outputs in rank order and keeps the first n rows",
            """
def sampler_predict_worker(rank, world_size, x, weights, seed):
    device = rank_device()
    sampler = DistributedSampler(range(len(x)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    idx = torch.tensor(list(sampler), device=device)
    out = torch.from_numpy(x).to(device)[idx] @ torch.from_numpy(weights).to(device)
    all_out = [torch.empty_like(out) for _ in range(world_size)]
    dist.all_gather(all_out, out)
    return torch.cat(all_out)[: len(x)].cpu().numpy()
""",
        ),
        (
            "puts the rows in index order but keeps the rows the sampler repeated",
            """
def sampler_predict_worker(rank, world_size, x, weights, seed):
    device = rank_device()
    sampler = DistributedSampler(range(len(x)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    idx = torch.tensor(list(sampler), device=device)
    out = torch.from_numpy(x).to(device)[idx] @ torch.from_numpy(weights).to(device)
    all_idx = [torch.empty_like(idx) for _ in range(world_size)]
    all_out = [torch.empty_like(out) for _ in range(world_size)]
    dist.all_gather(all_idx, idx)
    dist.all_gather(all_out, out)
    order = torch.argsort(torch.cat(all_idx))
    return torch.cat(all_out)[order].cpu().numpy()
""",
        ),
        (
            "drops the last rows of the gathered list, as if the repeats sat at the end of the last rank",
            """
def sampler_predict_worker(rank, world_size, x, weights, seed):
    device = rank_device()
    sampler = DistributedSampler(range(len(x)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    idx = torch.tensor(list(sampler), device=device)
    out = torch.from_numpy(x).to(device)[idx] @ torch.from_numpy(weights).to(device)
    all_idx = [torch.empty_like(idx) for _ in range(world_size)]
    all_out = [torch.empty_like(out) for _ in range(world_size)]
    dist.all_gather(all_idx, idx)
    dist.all_gather(all_out, out)
    n = len(x)
    result = torch.zeros((n, out.shape[1]), dtype=out.dtype, device=device)
    result[torch.cat(all_idx)[:n]] = torch.cat(all_out)[:n]
    return result.cpu().numpy()
""",
        ),
        (
            "forgets to gather: each rank fills in only its own rows",
            """
def sampler_predict_worker(rank, world_size, x, weights, seed):
    sampler = DistributedSampler(range(len(x)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    idx = np.array(list(sampler))
    result = np.zeros((len(x), weights.shape[1]))
    result[idx] = x[idx] @ weights
    return result
""",
        ),
        (
            "delegates to the lesson's gather_rows",
            """
def sampler_predict_worker(rank, world_size, x, weights, seed):
    from course_utils.infer import gather_rows, split_rows
    ranges = split_rows(len(x), world_size)
    start, end = ranges[rank]
    local = torch.from_numpy(x[start:end] @ weights)
    out = gather_rows(local, ranges)
    return None if out is None else out.numpy()
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "weighted_ranges": ["lesson"],
    "padded_duplicates": ["lesson"],
    "sampler_predict_worker": ["lesson"],
}
