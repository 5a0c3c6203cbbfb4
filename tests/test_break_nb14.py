"""Break the mechanisms notebook 14 proves, and check that its proofs then fail (see notebook_mutation).

* Tensor parallelism without f's all-reduce in backward: each rank keeps only its part of dL/dx, so the proof
  "split MLP == unsplit MLP" must fail on dL/dx.
* GPipe that weights every micro-batch's mean loss as if it were the whole batch: the gradients are m times
  too large for m > 1, so the proof "our GPipe == unsplit" must fail.
* ZeRO-1 without the all-gather: each rank's weights get only its own updated slice, the rest stays as it
  was, so "every way == one process" must fail.

Each test runs the notebook's own cells up to the proof, skipping the launches the proof does not need.
"""

from __future__ import annotations

import pytest
from notebook_mutation import assert_proof_fails

NOTEBOOK = "14_model_parallelism.ipynb"

#: cells after the section-1/2 launch that the ZeRO proof does not need (proofs, timeline, bubble table)
MODEL_PARALLEL_CELLS = [
    "res = run(tp_and_pp",
    'same64(r["tp"]',
    "def same_as_unsplit",
    "busy = [r[",
    "def measured_bubble",
]


#: ZeroAdam's all-gather, and a step that keeps the other ranks' slices as they were
ALL_GATHER = "gather(full, self.slice.detach())  # every rank gets every updated slice"
ONLY_MY_SLICE = (
    "full = F.pad(parameters_to_vector(self.params).detach(), (0, self.size * ws - self.n))\n"
    "        full[dist.get_rank() * self.size : (dist.get_rank() + 1) * self.size] = self.slice.detach()"
)


@pytest.mark.slow
def test_f_without_all_reduce_in_backward_fails_the_tensor_parallel_proof():
    failure = assert_proof_fails(
        NOTEBOOK,
        through='same64(r["tp"]',
        replace=[
            (
                "backward = staticmethod(lambda ctx, g: all_reduce(g))",
                "backward = staticmethod(lambda ctx, g: g)",
            )
        ],
    )
    assert "Tensor-likes are not close" in failure.evalue, failure


@pytest.mark.slow
def test_gpipe_without_micro_batch_weights_fails_the_pipeline_proof():
    assert_proof_fails(
        NOTEBOOK,
        through="def same_as_unsplit",
        replace=[("target.chunk(n_micro)[i]) * size / len(x))", "target.chunk(n_micro)[i]))")],
        drop=['same64(r["tp"]'],
    )


@pytest.mark.slow
def test_zero_adam_without_the_all_gather_fails_the_sharding_proof():
    failure = assert_proof_fails(
        NOTEBOOK,
        through='WAYS = ("ddp", "ZeroAdam"',
        replace=[(ALL_GATHER, ONLY_MY_SLICE)],
        drop=MODEL_PARALLEL_CELLS,
    )
    assert "Tensor-likes are not close" in failure.evalue, failure
