"""Plausible wrong answers for notebooks/09_ddp_jobs.ipynb (see tests/test_wrong_answers.py)."""

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
}

HINT_WORDS: dict[str, list[str]] = {
    "node_and_local_rank": ["integer division", "remainder"],
}
