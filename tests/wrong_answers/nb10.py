"""Plausible wrong answers for notebooks/10_sync_vs_async.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "stale_descent": [
        (
            "ignores the delay: the gradient at the current weights",
            """
def stale_descent(a, lr, taus, w0=1.0):
    w = [float(w0)]
    for t, tau in enumerate(taus):
        w.append(w[t] - lr * a * w[t])
    return w
""",
        ),
        (
            "off by one: one step staler than tau",
            """
def stale_descent(a, lr, taus, w0=1.0):
    w = [float(w0)]
    for t, tau in enumerate(taus):
        w.append(w[t] - lr * a * w[max(t - tau - 1, 0)])
    return w
""",
        ),
        (
            "no max(., 0): a negative index reads from the end of the list",
            """
def stale_descent(a, lr, taus, w0=1.0):
    w = [float(w0)]
    for t, tau in enumerate(taus):
        w.append(w[t] - lr * a * w[t - tau])
    return w
""",
        ),
        (
            "returns the updated weights without w0",
            """
def stale_descent(a, lr, taus, w0=1.0):
    w = [float(w0)]
    for t, tau in enumerate(taus):
        w.append(w[t] - lr * a * w[max(t - tau, 0)])
    return w[1:]
""",
        ),
    ],
    "first_time_below": [
        (
            "strictly below (<) instead of at or below",
            """
def first_time_below(times, losses, target):
    for t, loss in zip(times, losses, strict=True):
        if loss < target:
            return float(t)
    return None
""",
        ),
        (
            "infinity when the target is never reached",
            """
def first_time_below(times, losses, target):
    for t, loss in zip(times, losses, strict=True):
        if loss <= target:
            return float(t)
    return float("inf")
""",
        ),
        (
            "the time of the lowest loss instead of the first time below the target",
            """
def first_time_below(times, losses, target):
    best = min(range(len(losses)), key=lambda i: losses[i])
    return float(times[best]) if losses[best] <= target else None
""",
        ),
    ],
    "update_rates": [
        (
            "sync forgets the all-reduce time",
            """
def update_rates(compute, allreduce):
    return 1.0 / max(compute), sum(1.0 / c for c in compute)
""",
        ),
        (
            "sync waits for the average worker, not the slowest",
            """
def update_rates(compute, allreduce):
    return 1.0 / (sum(compute) / len(compute) + allreduce), sum(1.0 / c for c in compute)
""",
        ),
        (
            "async: the number of workers over the mean compute time",
            """
def update_rates(compute, allreduce):
    return 1.0 / (max(compute) + allreduce), len(compute) / (sum(compute) / len(compute))
""",
        ),
    ],
    "ps_update": [
        (
            "off by one: staleness read after the version was incremented for this push",
            """
def ps_update(weights, version, pushes, lr):
    staleness = []
    for version_read, grad in pushes:
        weights = weights - lr * grad
        version += 1
        staleness.append(version - version_read)
    return weights, version, staleness
""",
        ),
        (
            "averages the pushes into one update, as synchronous SGD would",
            """
def ps_update(weights, version, pushes, lr):
    if not pushes:
        return weights, version, []
    staleness = [version - version_read for version_read, _ in pushes]
    mean_grad = torch.stack([grad for _, grad in pushes]).mean(dim=0)
    return weights - lr * mean_grad, version + len(pushes), staleness
""",
        ),
        (
            "every push applied to the stale copy of the weights it started from: only the last one survives",
            """
def ps_update(weights, version, pushes, lr):
    new_weights, staleness = weights, []
    for i, (version_read, grad) in enumerate(pushes):
        staleness.append(version + i - version_read)
        new_weights = weights - lr * grad
    return new_weights, version + len(pushes), staleness
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "stale_descent": ["max(t - taus[t], 0)", "len(taus) + 1"],
    "first_time_below": ["<=", "None"],
    "update_rates": ["slowest worker + all-reduce", "1/compute[i]"],
    "ps_update": ["one by one", "never an average", "just before it is applied"],
}
