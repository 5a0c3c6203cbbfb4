"""Plausible wrong answers for notebooks/00_setup_and_devices.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "images_per_digit": [
        (
            "np.bincount without minlength stops at the largest label present",
            """
def images_per_digit(labels):
    return np.bincount(labels).tolist()
""",
        ),
        (
            "np.unique counts only the digits that occur",
            """
def images_per_digit(labels):
    return np.unique(labels, return_counts=True)[1].tolist()
""",
        ),
        (
            "off by one: bins for 0..8 only",
            """
def images_per_digit(labels):
    return [int(np.sum(labels == d)) for d in range(9)]
""",
        ),
    ],
    "global_batch_size": [
        (
            "forgets the nodes: counts the devices of one node only",
            """
def global_batch_size(per_replica, nodes, devices_per_node):
    return per_replica * devices_per_node
""",
        ),
        (
            "divides the batch over the replicas instead of multiplying",
            """
def global_batch_size(per_replica, nodes, devices_per_node):
    return per_replica // (nodes * devices_per_node)
""",
        ),
        (
            "adds nodes and devices instead of multiplying",
            """
def global_batch_size(per_replica, nodes, devices_per_node):
    return per_replica * (nodes + devices_per_node - 1)
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "images_per_digit": ["minlength"],
    "global_batch_size": ["replicas"],
}
