"""Break notebook 07's mechanism and watch its central proof fail.

The proof (section 6): k steps of the custom loop with 2 replicas == k steps with 1 replica on the same
global batch. It holds because each replica divides its summed loss by the GLOBAL batch
(``tf.nn.compute_average_loss(..., global_batch_size=...)``) before the replicas' gradients are summed.
With a per-replica mean instead, 2 replicas take a step twice as long as 1 replica, and the proof must fail.
"""

from __future__ import annotations

import pytest
from notebook_mutation import assert_proof_fails, run_mutated

NOTEBOOK = "07_mirrored_strategy.ipynb"
GLOBAL_SCALING = "loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)"
PER_REPLICA_MEAN = "loss = tf.reduce_mean(per_example)"
PROOF = "replicas == 1 replica on the same global batch"  # the cell asserting the equality
SLOW_CELLS = [
    "history = model.fit(",  # section 4: Keras fit for 2 epochs
    "fit_model.keras",  # section 4: evaluating and saving that model
    "moved_wrong",  # section 5: the local-mean demo (it would fail first, on purpose)
    "loop_model",  # section 5: 40 steps of the custom loop
    "configure_tf_logical_cpus(3)",  # section 1: the error message demo
]


@pytest.mark.slow
def test_a_per_replica_mean_breaks_two_replicas_equal_one():
    assert_proof_fails(NOTEBOOK, through=PROOF, replace=[(GLOBAL_SCALING, PER_REPLICA_MEAN)], drop=SLOW_CELLS)


@pytest.mark.slow
def test_the_unbroken_cells_pass_the_proof():
    """The control: the same cells, without the mutation, run through the proof cleanly."""
    failure = run_mutated(
        NOTEBOOK, through=PROOF, replace=[(GLOBAL_SCALING, GLOBAL_SCALING)], drop=SLOW_CELLS
    )
    assert failure.cell is None, failure
