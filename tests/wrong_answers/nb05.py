"""Plausible wrong answers for notebooks/05_single_device_pytorch.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "nll_by_hand": [
        (
            "sums over the batch instead of averaging",
            """
def nll_by_hand(log_probs, targets):
    return -log_probs[torch.arange(len(targets)), targets].sum()
""",
        ),
        (
            "forgets the minus sign",
            """
def nll_by_hand(log_probs, targets):
    return log_probs[torch.arange(len(targets)), targets].mean()
""",
        ),
        (
            "log_probs[:, targets] picks an N x N block, not one entry per row",
            """
def nll_by_hand(log_probs, targets):
    return -log_probs[:, targets].mean()
""",
        ),
    ],
    "accuracy": [
        (
            "argmax over the batch axis (dim=0)",
            """
def accuracy(outputs, targets):
    return (outputs.argmax(dim=0) == targets).float().mean().item()
""",
        ),
        (
            "counts the correct rows instead of the fraction",
            """
def accuracy(outputs, targets):
    return (outputs.argmax(dim=1) == targets).float().sum().item()
""",
        ),
        (
            "compares the largest value, not its index, with the target",
            """
def accuracy(outputs, targets):
    return (outputs.max(dim=1).values == targets).float().mean().item()
""",
        ),
    ],
    "train_step": [
        (
            "forgets zero_grad: gradients pile up over the steps",
            """
def train_step(model, x, y, optimizer):
    model.train()
    loss = F.nll_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
""",
        ),
        (
            "optimizer.step() before loss.backward()",
            """
def train_step(model, x, y, optimizer):
    model.train()
    optimizer.zero_grad()
    loss = F.nll_loss(model(x), y)
    optimizer.step()
    loss.backward()
    return loss.item()
""",
        ),
        (
            "zero_grad between backward and step: the step sees no gradient",
            """
def train_step(model, x, y, optimizer):
    model.train()
    loss = F.nll_loss(model(x), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()
""",
        ),
        (
            "returns the loss after the update (a second forward pass)",
            """
def train_step(model, x, y, optimizer):
    model.train()
    optimizer.zero_grad()
    F.nll_loss(model(x), y).backward()
    optimizer.step()
    with torch.no_grad():
        return F.nll_loss(model(x), y).item()
""",
        ),
    ],
    "make_checkpoint": [
        (
            "stores the model and optimizer objects",
            """
def make_checkpoint(model, optimizer, epoch):
    return {"model": model, "optimizer": optimizer, "epoch": int(epoch)}
""",
        ),
        (
            "forgets the optimizer state",
            """
def make_checkpoint(model, optimizer, epoch):
    return {"model": model.state_dict(), "epoch": int(epoch)}
""",
        ),
        (
            "stores the bound method state_dict instead of calling it",
            """
def make_checkpoint(model, optimizer, epoch):
    return {"model": model.state_dict, "optimizer": optimizer.state_dict, "epoch": int(epoch)}
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "nll_by_hand": ["negate", "average"],
    "accuracy": ["fraction", "argmax over dim=1"],
    "train_step": ["zero_grad", "backward", "step", "before the update"],
    "make_checkpoint": ["state_dict"],
}
