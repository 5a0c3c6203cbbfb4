"""Plausible wrong answers for notebooks/05_single_device_pytorch.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "nll_by_hand": [
        (
            "sums over the batch instead of averaging",
            """
def nll_by_hand(log_probs, targets):
    return float(-log_probs[np.arange(len(targets)), targets].sum())
""",
        ),
        (
            "forgets the minus sign",
            """
def nll_by_hand(log_probs, targets):
    return float(log_probs[np.arange(len(targets)), targets].mean())
""",
        ),
        (
            "log_probs[:, targets] picks an N x N block, not one entry per row",
            """
def nll_by_hand(log_probs, targets):
    return float(-log_probs[:, targets].mean())
""",
        ),
        (
            "delegates to PyTorch's nll_loss",
            """
def nll_by_hand(log_probs, targets):
    return F.nll_loss(torch.from_numpy(log_probs), torch.from_numpy(targets)).item()
""",
        ),
    ],
    "accuracy": [
        (
            "argmax over the batch axis (axis=0)",
            """
def accuracy(outputs, targets):
    return float((outputs.argmax(axis=0)[: len(targets)] == targets).mean())
""",
        ),
        (
            "counts the correct rows instead of the fraction",
            """
def accuracy(outputs, targets):
    return float((outputs.argmax(axis=1) == targets).sum())
""",
        ),
        (
            "compares the largest value, not its index, with the target",
            """
def accuracy(outputs, targets):
    return float((outputs.max(axis=1) == targets).mean())
""",
        ),
        (
            "delegates to scikit-learn",
            """
def accuracy(outputs, targets):
    from sklearn.metrics import accuracy_score
    return float(accuracy_score(targets, outputs.argmax(axis=1)))
""",
        ),
    ],
    "accumulated_step": [
        (
            "adds the micro-batches' mean losses without weighting: k times the step",
            """
def accumulated_step(weights, x, y, lr, k):
    model = tiny_model(weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    optimizer.zero_grad()
    for xb, yb in zip(np.array_split(x, k), np.array_split(y, k)):
        F.nll_loss(model(torch.from_numpy(xb)), torch.from_numpy(yb)).backward()
    optimizer.step()
    return {n: p.detach().numpy().copy() for n, p in model.state_dict().items()}
""",
        ),
        (
            "divides each micro-batch's mean loss by k: wrong when the micro-batches differ in size",
            """
def accumulated_step(weights, x, y, lr, k):
    model = tiny_model(weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    optimizer.zero_grad()
    for xb, yb in zip(np.array_split(x, k), np.array_split(y, k)):
        (F.nll_loss(model(torch.from_numpy(xb)), torch.from_numpy(yb)) / k).backward()
    optimizer.step()
    return {n: p.detach().numpy().copy() for n, p in model.state_dict().items()}
""",
        ),
        (
            "one optimizer step per micro-batch (k small steps, not one accumulated step)",
            """
def accumulated_step(weights, x, y, lr, k):
    model = tiny_model(weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for xb, yb in zip(np.array_split(x, k), np.array_split(y, k)):
        optimizer.zero_grad()
        (F.nll_loss(model(torch.from_numpy(xb)), torch.from_numpy(yb), reduction="sum") / len(x)).backward()
        optimizer.step()
    return {n: p.detach().numpy().copy() for n, p in model.state_dict().items()}
""",
        ),
        (
            "zero_grad inside the loop: only the last micro-batch's gradient is left",
            """
def accumulated_step(weights, x, y, lr, k):
    model = tiny_model(weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for xb, yb in zip(np.array_split(x, k), np.array_split(y, k)):
        optimizer.zero_grad()
        (F.nll_loss(model(torch.from_numpy(xb)), torch.from_numpy(yb), reduction="sum") / len(x)).backward()
    optimizer.step()
    return {n: p.detach().numpy().copy() for n, p in model.state_dict().items()}
""",
        ),
        (
            "delegates to the lesson's train_epoch",
            """
def accumulated_step(weights, x, y, lr, k):
    model = tiny_model(weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    train_epoch(model, [(torch.from_numpy(x), torch.from_numpy(y))], optimizer, "cpu")
    return {n: p.detach().numpy().copy() for n, p in model.state_dict().items()}
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "nll_by_hand": ["lesson"],
    "accuracy": ["lesson"],
    "accumulated_step": ["lesson"],
}
