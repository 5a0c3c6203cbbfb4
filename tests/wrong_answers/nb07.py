"""Plausible wrong answers for notebooks/07_mirrored_strategy.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "batch_plan": [
        (
            "divides the per-replica batch by the replicas",
            """
def batch_plan(n_examples, per_replica, replicas):
    global_batch = per_replica // replicas
    return global_batch, n_examples // global_batch
""",
        ),
        (
            "counts the last partial batch (ceil)",
            """
def batch_plan(n_examples, per_replica, replicas):
    global_batch = per_replica * replicas
    return global_batch, -(-n_examples // global_batch)
""",
        ),
        (
            "steps counted with the per-replica batch",
            """
def batch_plan(n_examples, per_replica, replicas):
    return per_replica * replicas, n_examples // per_replica
""",
        ),
    ],
    "replica_loss": [
        (
            "the local mean: divides by len(per_example)",
            """
def replica_loss(per_example, global_batch_size):
    return float(np.mean(per_example))
""",
        ),
        (
            "mean, then divided by the global batch again",
            """
def replica_loss(per_example, global_batch_size):
    return float(np.mean(per_example) / global_batch_size)
""",
        ),
        (
            "the sum without any division",
            """
def replica_loss(per_example, global_batch_size):
    return float(np.sum(per_example))
""",
        ),
    ],
    "make_tf_config": [
        (
            "returns the JSON string TF_CONFIG holds instead of the dict",
            """
def make_tf_config(hosts, index):
    import json

    return json.dumps({"cluster": {"worker": list(hosts)}, "task": {"type": "worker", "index": index}})
""",
        ),
        (
            "the first worker typed as chief",
            """
def make_tf_config(hosts, index):
    kind = "chief" if index == 0 else "worker"
    return {"cluster": {"worker": list(hosts)}, "task": {"type": kind, "index": index}}
""",
        ),
        (
            "the cluster lists only this worker's own address",
            """
def make_tf_config(hosts, index):
    return {"cluster": {"worker": [hosts[index]]}, "task": {"type": "worker", "index": index}}
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "batch_plan": ["multiply", "full global batches"],
    "replica_loss": ["GLOBAL batch size"],
    "make_tf_config": ["cluster", "task"],
}
