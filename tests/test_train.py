"""course_utils.train: the training loop, evaluate/predict, History, safe checkpoints, fit with resume."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.models import Net
from course_utils.pipeline import TensorLoader
from course_utils.train import (
    Callback,
    Checkpoint,
    History,
    evaluate,
    fit,
    is_main_process,
    load_checkpoint,
    predict,
    save_checkpoint,
    train_epoch,
    unwrap_model,
)

ROOT = Path(__file__).resolve().parent.parent


def toy_data(n: int = 256, seed: int = 0):
    """Two well separated Gaussian blobs in 2-D: any sane loop reaches ~100 % quickly."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=g) * 0.5 + (y[:, None] * 2 - 1) * 2.0
    return x, y


def toy_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2), nn.LogSoftmax(dim=1))


def test_train_epoch_learns_and_reports_consistent_metrics():
    x, y = toy_data()
    model = toy_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = TensorLoader(x, y, batch_size=32, shuffle=True)
    before = evaluate(model, loader, "cpu")
    stats = [train_epoch(model, loader, opt, "cpu") for _ in range(5)]
    after = evaluate(model, loader, "cpu")
    assert stats[0]["images"] == 256 and stats[0]["images_per_s"] > 0 and stats[0]["seconds"] > 0
    assert after["loss"] < before["loss"] and after["accuracy"] >= 0.97
    assert stats[-1]["accuracy"] >= 0.9  # the running training accuracy, counted while the weights change
    model.train()  # evaluate restores the mode it found
    evaluate(model, loader, "cpu")
    assert model.training


def test_train_epoch_loss_is_the_size_weighted_mean():
    x, y = toy_data(70)
    model = toy_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: weights fixed, so losses are comparable
    stats = train_epoch(model, TensorLoader(x, y, batch_size=32), opt, "cpu")
    model.train()
    with torch.no_grad():
        full = F.nll_loss(model(x), y).item()
    assert stats["loss"] == pytest.approx(full, rel=1e-5)  # 32+32+6: weighted, not a mean of batch means
    ev = evaluate(model, TensorLoader(x, y, batch_size=32), "cpu")
    assert ev["loss"] == pytest.approx(full, rel=1e-5) and ev["images"] == 70


def test_evaluate_and_predict_agree_and_keep_order():
    x, y = toy_data(100)
    model = toy_model()
    out_tensor = predict(model, x, "cpu", batch_size=7)
    out_loader = predict(model, TensorLoader(x, y, batch_size=33), "cpu")
    with torch.no_grad():
        model.eval()
        ref = model(x)
    torch.testing.assert_close(out_tensor, ref)
    torch.testing.assert_close(out_loader, ref)
    acc = (out_tensor.argmax(1) == y).float().mean().item()
    assert evaluate(model, TensorLoader(x, y, batch_size=33), "cpu")["accuracy"] == pytest.approx(acc)
    with pytest.raises(ValueError):
        predict(model, [], "cpu")


def test_dataloader_works_too():
    x, y = toy_data(64)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True)
    model = toy_model()
    stats = train_epoch(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), "cpu")
    assert stats["images"] == 64
    with pytest.raises(TypeError, match="inputs, targets"):
        train_epoch(model, [x[:4]], torch.optim.SGD(model.parameters(), lr=0.1), "cpu")


def test_net_with_channels_last_gives_the_same_outputs():
    torch.manual_seed(0)
    a = Net().eval()
    b = Net().eval()
    b.load_state_dict(a.state_dict())
    b = b.to(memory_format=torch.channels_last)
    x = torch.randn(8, 1, 28, 28)
    torch.testing.assert_close(predict(a, x, "cpu"), predict(b, x, "cpu"), rtol=1e-4, atol=1e-5)


def test_history_roundtrip_and_access():
    h = History()
    h.append(0, loss=1.0, val_accuracy=0.5)
    h.append(1, loss=0.5, val_accuracy=0.75)
    assert h["loss"] == [1.0, 0.5] and h.epochs == [0, 1] and h["val_accuracy"] == [0.5, 0.75]
    assert History(**dataclasses.asdict(h)) == h  # how a checkpoint stores and restores it


def test_checkpoint_roundtrip_restores_model_optimizer_scheduler(tmp_path):
    x, y = toy_data()
    model = toy_model()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    train_epoch(model, TensorLoader(x, y, batch_size=64), opt, "cpu")
    sched.step()
    h = History()
    h.append(0, loss=0.3)
    path = save_checkpoint(tmp_path / "sub" / "ck.pt", model, opt, 0, scheduler=sched, history=h, note="hi")
    assert path.is_file() and not list(path.parent.glob("*.part"))  # atomic: no temporary left behind

    model2 = toy_model(seed=1)
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.01)
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, step_size=1, gamma=0.5)
    ck = load_checkpoint(path, model2, opt2, scheduler=sched2)
    assert ck["epoch"] == 0 and ck["note"] == "hi" and ck["history"]["loss"] == [0.3]
    for p, q in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(p, q)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.005
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)
    with pytest.raises(KeyError):
        load_checkpoint(save_checkpoint(tmp_path / "m.pt", model), model2, opt2)


def test_checkpoint_of_a_wrapped_model_loads_into_a_plain_one(tmp_path):
    model = toy_model()
    wrapped = nn.DataParallel(model)  # same .module wrapping as DistributedDataParallel
    assert unwrap_model(wrapped) is model
    path = save_checkpoint(tmp_path / "w.pt", wrapped)
    assert not any(k.startswith("module.") for k in torch.load(path, weights_only=True)["model"])


class _Evil:
    def __reduce__(self):
        return (os.getpid, ())  # harmless, but still "call a function while unpickling"


def test_load_checkpoint_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": _Evil()}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(path, toy_model())


def test_fit_history_tensorboard_checkpoint_and_resume(tmp_path):
    x, y = toy_data()
    loader = TensorLoader(x, y, batch_size=32, shuffle=True)
    val = TensorLoader(x[:64], y[:64], batch_size=64)

    def fresh():
        model = toy_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return model, opt, torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)

    # reference: 4 epochs in one go
    m_ref, o_ref, s_ref = fresh()
    h_ref = fit(m_ref, loader, o_ref, "cpu", 4, val_loader=val, scheduler=s_ref, progress=False)
    assert h_ref.epochs == [0, 1, 2, 3] and set(h_ref.history) >= {
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
    }
    assert h_ref["lr"] == pytest.approx([0.1, 0.07, 0.049, 0.0343])

    # 2 epochs, "crash", then resume from the checkpoint for 2 more: identical weights and history
    ck = tmp_path / "ck.pt"
    m1, o1, s1 = fresh()
    fit(
        m1,
        loader,
        o1,
        "cpu",
        2,
        val_loader=val,
        scheduler=s1,
        checkpoint_path=ck,
        log_dir=tmp_path / "tb",
        progress=True,
    )
    m2, o2, s2 = fresh()
    h2 = fit(
        m2,
        loader,
        o2,
        "cpu",
        4,
        val_loader=val,
        scheduler=s2,
        checkpoint_path=ck,
        resume=True,
        progress=False,
    )
    assert h2.epochs == [0, 1, 2, 3]
    for p, q in zip(m_ref.parameters(), m2.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert h2["val_accuracy"] == pytest.approx(h_ref["val_accuracy"])
    assert load_checkpoint(ck)["epoch"] == 3
    events = list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert events, "SummaryWriter wrote no event file"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged = EventAccumulator(str(tmp_path / "tb")).Reload()
    assert {"train/loss", "train/accuracy", "train/lr", "val/loss", "val/accuracy"} <= set(
        logged.Tags()["scalars"]
    )
    assert [e.value for e in logged.Scalars("val/accuracy")] == pytest.approx(
        h2["val_accuracy"][:2], rel=1e-6
    )


def test_resume_with_dropout_matches_an_uninterrupted_run(tmp_path):
    """The checkpoint carries the random state, so dropout masks after a resume are the ones of one long run."""
    x, y = toy_data(128)

    def fresh():
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 2), nn.LogSoftmax(1)
        )
        return model, torch.optim.Adam(model.parameters(), lr=0.01)

    loader = TensorLoader(x, y, batch_size=16, shuffle=True)
    m_ref, o_ref = fresh()
    fit(m_ref, loader, o_ref, "cpu", 3, progress=False)
    m1, o1 = fresh()
    fit(m1, loader, o1, "cpu", 1, checkpoint_path=tmp_path / "c.pt", progress=False)
    torch.manual_seed(123)  # whatever happened to the random state in between
    m2, o2 = fresh()
    fit(m2, loader, o2, "cpu", 3, checkpoint_path=tmp_path / "c.pt", resume=True, progress=False)
    for p, q in zip(m_ref.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p, q)


def test_resume_restores_the_generator_of_the_device_that_trains(tmp_path, monkeypatch):
    """On CUDA or Apple MPS dropout draws from the device's own generator: fit saves it and restores it."""
    import course_utils.train as train

    assert (
        train._device_rng(torch.device("cuda")) is torch.cuda
        and train._device_rng(torch.device("mps")) is torch.mps
    )
    assert train._device_rng(torch.device("cpu")) is None

    class DeviceGenerator:  # plays torch.cuda / torch.mps on this CPU-only machine
        state, restored = torch.tensor([1, 2, 3], dtype=torch.uint8), None

        def get_rng_state(self, device):
            return self.state.clone()

        def set_rng_state(self, state, device):
            self.restored = state

    gen = DeviceGenerator()
    monkeypatch.setattr(train, "_device_rng", lambda device: gen)
    x, y = toy_data(64)
    model = toy_model()
    opt, loader, ck = (
        torch.optim.SGD(model.parameters(), lr=0.1),
        TensorLoader(x, y, batch_size=32),
        tmp_path / "c",
    )
    fit(model, loader, opt, "cpu", 1, checkpoint_path=ck, progress=False)
    assert torch.equal(load_checkpoint(ck)["cpu_rng_state"], gen.state)
    gen.state = torch.tensor([9, 9, 9], dtype=torch.uint8)  # the generator moved on; resuming must rewind it
    fit(model, loader, opt, "cpu", 2, checkpoint_path=ck, resume=True, progress=False)
    assert gen.restored is not None and gen.restored.tolist() == [1, 2, 3]


def test_fit_on_a_non_main_rank_writes_nothing(tmp_path):
    x, y = toy_data(64)
    model = toy_model()
    fit(
        model,
        TensorLoader(x, y, batch_size=32),
        torch.optim.SGD(model.parameters(), lr=0.1),
        "cpu",
        1,
        log_dir=tmp_path / "tb",
        checkpoint_path=tmp_path / "ck.pt",
        is_main=False,
    )
    assert not (tmp_path / "tb").exists() and not (tmp_path / "ck.pt").exists()
    assert is_main_process()  # no process group here


@pytest.mark.slow
def test_metrics_are_summed_over_ranks_under_a_process_group(tmp_path):
    """Two gloo ranks, each evaluating a disjoint half: both report the metrics of the whole set."""
    script = tmp_path / "two_ranks.py"
    script.write_text(
        "import os, sys, torch, torch.distributed as dist\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from course_utils.train import evaluate\n"
        "from course_utils.pipeline import TensorLoader, UnpaddedShardSampler\n"
        "dist.init_process_group('gloo')\n"
        "r, w = dist.get_rank(), dist.get_world_size()\n"
        "torch.manual_seed(0)\n"
        "model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LogSoftmax(1))\n"
        "x = torch.randn(11, 2); y = torch.arange(11) % 2\n"
        "res = evaluate(model, TensorLoader(x, y, batch_size=4, sampler=UnpaddedShardSampler(11, r, w)), 'cpu')\n"
        "full = evaluate(model, TensorLoader(x, y, batch_size=4), 'cpu', sync=False)\n"
        "assert res['images'] == 11, res\n"
        "assert abs(res['loss'] - full['loss']) < 1e-6 and res['accuracy'] == full['accuracy'], (res, full)\n"
        "dist.destroy_process_group()\n"
        f"open(os.path.join({str(tmp_path)!r}, f'ok{{r}}'), 'w').close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(script)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    # each rank leaves a file: the ranks share one stdout pipe, so printed lines can interleave
    assert sorted(p.name for p in tmp_path.glob("ok*")) == ["ok0", "ok1"]


def _load_benchmark():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_loop", ROOT / "benchmarks" / "train_loop_vs_pytorch_example.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_script_runs(capsys):
    """Smoke test of benchmarks/train_loop_vs_pytorch_example.py (two batches per variant; no timing claims)."""
    module = _load_benchmark()
    rates = module.main(["--repeats", "1", "--warmup", "0", "--max-batches", "2"])
    assert len(rates) == 4 and all(len(v) == 1 and v[0] > 0 for v in rates.values())
    assert "RESULT: course loop / PyTorch-example loop" in capsys.readouterr().out


def test_example_style_dataset_matches_the_course_normalisation():
    """The benchmark's peer must see the same numbers as the course loop (only the loop style differs)."""
    import numpy as np

    from course_utils.pipeline import normalize_images

    module = _load_benchmark()
    images = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    ds = module.ExampleStyleMNIST(images, np.array([1, 2, 3], dtype=np.uint8))
    x, y = ds[2]
    assert y == 3 and x.shape == (1, 28, 28)
    np.testing.assert_allclose(x.numpy(), normalize_images(images[2:3])[0], atol=1e-6)


def test_train_epoch_clips_the_global_gradient_norm():
    """With SGD, one step moves the weights by lr x (clipped gradient): its norm can be at most lr x clip."""
    torch.manual_seed(0)
    x, y = torch.randn(8, 3) * 100, torch.arange(8) % 2
    for clip, bound in ((1e-3, 0.1 * 1e-3), (None, None)):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2)
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train_epoch(model, [(x, y)], opt, "cpu", F.cross_entropy, sync=False, clip_grad_norm=clip)
        moved = float((torch.cat([p.detach().flatten() for p in model.parameters()]) - before).norm())
        if bound is not None:
            assert moved <= bound * (1 + 1e-5)
        else:
            assert moved > 1.0  # unclipped, the large inputs give a large step: the bound above is real


def test_fit_calls_the_callbacks_in_order_and_closes_them_after_an_error():
    """fit is a loop plus callbacks: on_fit_start once, on_batch_end per batch, on_epoch_end per epoch with the
    History row, on_fit_end even when training raises; a callback's returned start epoch skips epochs."""
    x, y = toy_data(64)

    class Recorder(Callback):
        def __init__(self, start=None):
            self.calls, self.start = [], start

        def on_fit_start(self, run):
            self.calls.append(("start", run.epochs, run.batches))
            return self.start

        def on_batch_end(self, run, loss):
            self.calls.append(("batch", float(loss)))

        def on_epoch_end(self, run, epoch, row):
            self.calls.append(("epoch", epoch, sorted(row)))

        def on_fit_end(self, run):
            self.calls.append(("end",))

    model = toy_model()
    rec = Recorder()
    h = fit(model, TensorLoader(x, y, batch_size=32), torch.optim.SGD(model.parameters(), lr=0.1), "cpu", 2,
            callbacks=[rec], progress=False)  # fmt: skip
    kinds = [c[0] for c in rec.calls]
    assert kinds == ["start", "batch", "batch", "epoch", "batch", "batch", "epoch", "end"]
    assert rec.calls[0] == ("start", 2, 2) and rec.calls[3] == (
        "epoch",
        0,
        ["accuracy", "images_per_s", "loss"],
    )
    assert h.epochs == [0, 1]
    skip = Recorder(start=1)  # e.g. a restored checkpoint: only epoch 1 is trained
    assert fit(model, TensorLoader(x, y, batch_size=32), torch.optim.SGD(model.parameters(), lr=0.1), "cpu", 2,
               callbacks=[skip], progress=False).epochs == [1]  # fmt: skip

    class Boom(Exception):
        pass

    closing = Recorder()
    with pytest.raises(Boom):
        fit(model, [(x[:4], y[:4])], torch.optim.SGD(model.parameters(), lr=0.1), "cpu", 1,
            loss_fn=lambda out, t: (_ for _ in ()).throw(Boom()), callbacks=[closing], progress=False)  # fmt: skip
    assert closing.calls[-1] == ("end",)


def test_checkpoint_callback_resumes_like_the_keywords(tmp_path):
    """Checkpoint(path, resume=True) in callbacks= is what checkpoint_path=..., resume=True stand for."""
    x, y = toy_data(96)
    loader = TensorLoader(x, y, batch_size=32, shuffle=True)

    def fresh():
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2), nn.LogSoftmax(1)
        )
        return model, torch.optim.Adam(model.parameters(), lr=0.01)

    m_ref, o_ref = fresh()
    fit(m_ref, loader, o_ref, "cpu", 3, progress=False)
    m1, o1 = fresh()
    fit(m1, loader, o1, "cpu", 2, callbacks=[Checkpoint(tmp_path / "c.pt")], progress=False)
    m2, o2 = fresh()
    torch.manual_seed(7)
    h = fit(m2, loader, o2, "cpu", 3, callbacks=[Checkpoint(tmp_path / "c.pt", resume=True)], progress=False)
    assert h.epochs == [0, 1, 2]
    for p, q in zip(m_ref.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p, q)


def test_train_epoch_with_bf16_autocast_keeps_float32_weights():
    """autocast=torch.bfloat16 runs the forward in bf16 on the CPU; weights and gradients stay float32."""
    x, y = toy_data(64)
    model = toy_model()
    seen = []
    stats = train_epoch(model, TensorLoader(x, y, batch_size=32), torch.optim.SGD(model.parameters(), lr=0.1),
                        "cpu", autocast=torch.bfloat16, on_batch=seen.append)  # fmt: skip
    assert len(seen) == 2 and stats["images"] == 64
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in model.parameters())
    assert model[0](x[:4]).dtype == torch.float32  # outside autocast: float32 again
