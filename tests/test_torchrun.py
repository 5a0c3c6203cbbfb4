"""torchrun entry point: snapshots, command lines, and (slow) a real elastic restart and a 2-node run."""

from __future__ import annotations

import json

import pytest
import torch

from course_utils import torchrun_launch as tl
from course_utils import torchrun_train


def test_command_lines():
    cmd = tl.torchrun_command(["--epochs", 2], 2, max_restarts=1)
    line = tl.show_command(cmd)
    assert line.startswith("torchrun --nproc-per-node=2 --max-restarts=1 --standalone -m course_utils.torchrun_train")
    assert line.endswith("--epochs 2")
    multi = tl.show_command(tl.torchrun_command([], 1, standalone=False, nnodes=2, node_rank=1, rdzv_endpoint="h:1"))
    for part in ("--nnodes=2", "--node-rank=1", "--rdzv-backend=c10d", "--rdzv-endpoint=h:1"):
        assert part in multi
    with pytest.raises(ValueError):
        tl.torchrun_command([], 1, standalone=False)


def test_trim_log_keeps_the_story():
    log = "\n".join(
        [
            "W1127 00:39:41.310000 12196 torch/distributed/run.py:874] *****",
            "[rank 0/2 local 0 attempt 0] epoch 0: loss 2.286",
            "[rank0]:   File x.py, line 1",
            "W1127 00:40:06.783000 12196 torch/distributed/elastic/multiprocessing/api.py:1028] Sending process 1 closing signal SIGTERM",
        ]
    )
    out = tl.trim_log(log).splitlines()
    assert out == ["[rank 0/2 local 0 attempt 0] epoch 0: loss 2.286", "torchrun: Sending process 1 closing signal SIGTERM"]
    # why a worker died is kept: a C++ abort (exit code -6) and the last line of a Python traceback
    died = [
        "terminate called after throwing an instance of 'gloo::IoException'",
        "  what():  [pair.cc:598] Connection closed by peer",
        "[rank1]:   File x.py, line 2, in main",
        "[rank1]: torch.distributed.DistBackendError: boom",
    ]
    assert tl.trim_log("\n".join(died)).splitlines() == [died[0], died[1], died[3]]


def test_main_refuses_to_run_without_torchrun(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    with pytest.raises(SystemExit, match="torchrun"):
        torchrun_train.main(["--epochs", "1"])


@pytest.mark.slow
def test_elastic_restart_resumes_and_matches_an_uninterrupted_two_node_run(tmp_path):
    common = ["--epochs", "3", "--n-train", "512", "--batch-size", "32"]
    # 1) one machine, 2 workers; rank 1 dies at step 12 (epoch 1); torchrun restarts the group once
    el = tl.run_torchrun(
        tl.torchrun_command([*common, "--snapshot", tmp_path / "el.pt", "--result", tmp_path / "el.json", "--fail-at-step", "12"], 2, max_restarts=1),
        timeout=400,
    )
    assert el.returncode == 0, el.trimmed()
    assert "simulated crash at global step 12" in el.log
    assert "attempt 1] resumed from snapshot el.pt: epochs 0..0 already done" in el.log
    summary = json.loads((tmp_path / "el.json").read_text())
    assert summary["restart"] == 1 and summary["epochs_run"] == 3
    # 2) two "nodes" on localhost, one worker each, c10d rendezvous; no failure
    nodes = tl.run_local_nodes([*common, "--snapshot", tmp_path / "mn.pt"], nnodes=2, nproc_per_node=1, timeout=400)
    assert [n.returncode for n in nodes] == [0, 0], "\n".join(n.trimmed() for n in nodes)
    assert "done:" in nodes[0].log + nodes[1].log
    # same world size, seeds and data order: the resumed run ends with exactly the uninterrupted weights
    a = torch.load(tmp_path / "el.pt", weights_only=True)
    b = torch.load(tmp_path / "mn.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], atol=0, rtol=0)


def test_slurm_example_is_valid_bash_and_uses_a_reachable_rendezvous():
    import subprocess
    from pathlib import Path

    path = Path(torchrun_train.__file__).parent / "slurm" / "ddp_multinode.sbatch"
    subprocess.run(["bash", "-n", str(path)], check=True)
    text = path.read_text()
    for part in ("#SBATCH --nodes=", "--rdzv-backend=c10d", '--rdzv-endpoint="$head_node', "-m course_utils.torchrun_train"):
        assert part in text
    assert "localhost" not in text.split("#SBATCH")[-1]  # only mentioned in the header comment
