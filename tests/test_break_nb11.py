"""Break notebook 11's mechanism: a distributed predict that gathers out of order must fail its proof.

Notebook 11's central proof (section 3) is that the rows predicted by 3 ranks and gathered to rank 0 equal
the single-process predictions, row for row (an identity model bit for bit, then `Net` on 1000, 999 and 2
rows). Here `gather_rows` concatenates the ranks' blocks in reverse rank order - every row is still there,
only in the wrong place - and the proof cell must be the cell that fails, with an AssertionError (a
NameError or a failure in an earlier cell would not count). Only the cells up to the proof run, without
TensorFlow's logical-CPU set-up (the proof does not use TensorFlow); the control arm, the same cells
unbroken, is the notebook itself under nbval.
"""

from __future__ import annotations

import pytest
from notebook_mutation import assert_proof_fails

NOTEBOOK = "11_distributed_inference.ipynb"
PROOF = "def assert_same_predictions"  # the cell that compares the 3 ranks' outputs with one process
IN_ORDER = "    return torch.cat([b[:k] for b, k in zip(blocks, sizes, strict=True)])"
OUT_OF_ORDER = "    return torch.cat([b[:k] for b, k in reversed(list(zip(blocks, sizes, strict=True)))])"
NO_TF = 'print("TensorFlow devices:", configure_tensorflow(logical_cpus=2))'  # imports TF: seconds
NO_TENSORFLOW = (NO_TF, "")


@pytest.mark.slow
def test_gathering_out_of_order_fails_the_proof():
    assert_proof_fails(NOTEBOOK, through=PROOF, replace=[(IN_ORDER, OUT_OF_ORDER), NO_TENSORFLOW])
