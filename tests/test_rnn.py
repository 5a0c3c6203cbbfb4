"""course_utils.rnn (the saved copy of notebook 02's weight reader) and course_utils.tasks (01 and 03).

The RNN, BPTT and GRU themselves live in notebooks 02 and 03, proved there by asserts under nbval.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import rnn, tasks


@pytest.mark.parametrize("kind", [nn.RNN, nn.GRU])
def test_torch_weights_reads_every_layer_and_direction(kind):
    layer = kind(3, 4, num_layers=2, bidirectional=True)
    for index in (0, 1):
        for reverse in (False, True):
            got = rnn.torch_weights(layer, index, reverse)
            sfx = f"_l{index}" + ("_reverse" if reverse else "")
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            for array, name in zip(got, names, strict=True):
                assert isinstance(array, np.ndarray)
                np.testing.assert_array_equal(array, getattr(layer, name + sfx).detach().numpy())
    w_ih = rnn.torch_weights(layer)[0]
    w_ih += 1.0  # a copy: changing it leaves the layer alone
    assert not np.allclose(w_ih, layer.weight_ih_l0.detach().numpy())


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru, self.head = nn.GRU(3, 8, batch_first=True), nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(x)[1][-1])


def test_train_classifier_is_reproducible_and_stops_early():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=64)
    x = np.eye(3, dtype=np.float32)[np.concatenate([y[:, None], rng.integers(0, 3, size=(64, 2))], axis=1)]

    def run():
        torch.manual_seed(0)
        model = _Tiny()
        hist = tasks.train_classifier(model, x, y, epochs=3, batch_size=16, lr=1e-2, seed=0, clip=1.0)
        return hist, tasks.accuracy(model, x, y)

    (h1, a1), (h2, a2) = run(), run()
    assert h1 == h2 and a1 == a2 and 0 <= a1 <= 1 and len(h1) == 3
    torch.manual_seed(0)
    assert len(tasks.train_classifier(_Tiny(), x, y, epochs=50, lr=1e-2, stop_below=10.0)) == 1


def test_torch_threads_restores_the_setting():
    before = torch.get_num_threads()
    with tasks.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), tasks.torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


# Break the mechanism: each central proof of notebooks 02 and 03 must fail, in its own cell and with an
# AssertionError, when one line of the mechanism it proves is broken (tests/notebook_mutation.py). The
# control arm, the same cells unbroken, is each notebook itself under nbval.
KERAS_CELLS = [
    "import keras",
    "keras.layers",
]  # TensorFlow: seconds to import; the proofs below do not use it


@pytest.mark.slow
def test_bptt_step_without_the_tanh_derivative_fails_the_proof():
    from notebook_mutation import assert_proof_fails

    assert_proof_fails(
        "02_rnn_and_bptt.ipynb",
        through="one step back by hand == autograd",
        replace=[
            (
                "    da = delta_t * (1 - h_t**2)  # back through tanh, its derivative written with its output",
                "    da = delta_t  # broken: tanh's derivative forgotten",
            )
        ],
        drop=KERAS_CELLS,
    )


@pytest.mark.slow
def test_jacobian_product_without_the_tanh_factor_fails_the_proof():
    from notebook_mutation import assert_proof_fails

    assert_proof_fails(
        "02_rnn_and_bptt.ipynb",
        through="def last_20_steps(h):",
        replace=[
            (
                "        jac = jac @ (df(hs[t])[:, None] * w_hh)  # one more step back: times diag(f'(a_t)) W_hh",
                "        jac = jac @ w_hh  # broken: the diag(f'(a_t)) factor forgotten",
            )
        ],
        drop=[*KERAS_CELLS, "one step back by hand == autograd"],
    )


@pytest.mark.slow
def test_gru_with_the_interpolation_reversed_fails_the_proof():
    from notebook_mutation import assert_proof_fails

    assert_proof_fails(
        "03_gru.ipynb",
        through="NumPy GRU == nn.GRU",
        replace=[
            (
                "        h = (1 - z) * n + z * h  # z -> 1 keeps the old state",
                "        h = z * n + (1 - z) * h  # broken: z keeps the candidate",
            )
        ],
        drop=["import keras"],  # unbroken, the cell then stops at a NameError after the PyTorch check
    )
