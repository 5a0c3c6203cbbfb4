"""Notebook 09's file programs, taken from its ``%%writefile`` cells (the notebook is their only copy).

The torchrun script, the single-device script it is a diff of, the Slurm batch file and the script with a
deliberate collective mismatch (run by the notebook with and without the debugging variables): they parse, the
DDP script refuses to start without torchrun, its learning rate follows the linear scaling rule with a
warm-up (and the Slurm file asks for both), and the single-device script trains and resumes from its
snapshot (the notebook itself never runs it). The elastic restart and the proof "2 nodes == crashed and
resumed run" run in the notebook, under nbval.
"""

from __future__ import annotations

import importlib.util
import json
import os
import py_compile
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.paths import NOTEBOOKS, ROOT

NOTEBOOK = NOTEBOOKS / "09_ddp_jobs.ipynb"
PROGRAMS = {"train_single.py", "train_ddp.py", "ddp_multinode.sbatch", "collective_mismatch.py"}


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict[str, Path]:
    """Write every ``%%writefile {SCRIPTS}/NAME`` cell of the notebook to a temporary folder, as IPython would."""
    folder = tmp_path_factory.mktemp("nb09")
    written = {}
    for cell in json.loads(NOTEBOOK.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or not source.startswith("%%writefile"):
            continue
        magic, _, body = source.partition("\n")
        name = magic.split()[-1].rsplit("/", 1)[-1]
        written[name] = folder / name
        written[name].write_text(body + "\n")
    return written


def _run(args: list, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "RANK", "WORLD_SIZE")}
    full_env.update(OMP_NUM_THREADS="1", **env)
    return subprocess.run(
        [sys.executable, *map(str, args)], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=300
    )


def test_the_notebook_writes_the_four_programs(programs):
    assert set(programs) == PROGRAMS


def test_python_programs_compile(programs):
    for name in ("train_single.py", "train_ddp.py", "collective_mismatch.py"):
        py_compile.compile(str(programs[name]), doraise=True)


def test_ddp_script_refuses_to_run_without_torchrun(programs):
    p = _run([programs["train_ddp.py"], "--epochs", "1"])
    assert p.returncode != 0 and "torchrun" in p.stderr


def test_single_device_script_trains_and_resumes_from_its_snapshot(programs, tmp_path):
    common = [programs["train_single.py"], "--n-train", "256", "--snapshot", tmp_path / "s.pt"]
    first = _run([*common, "--epochs", "1"], COURSE_DEVICE="cpu")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "epoch 0:" in first.stdout and "resumed" not in first.stdout
    second = _run([*common, "--epochs", "2", "--result", tmp_path / "s.json"], COURSE_DEVICE="cpu")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resumed from snapshot s.pt: epochs 0..0 already done" in second.stdout
    assert "epoch 0:" not in second.stdout and "epoch 1:" in second.stdout
    assert json.loads((tmp_path / "s.json").read_text())["epochs_run"] == 2


def test_slurm_file_is_valid_bash_and_meets_at_a_reachable_rendezvous(programs):
    subprocess.run(["bash", "-n", str(programs["ddp_multinode.sbatch"])], check=True)
    text = programs["ddp_multinode.sbatch"].read_text()
    assert "#SBATCH --nodes=" in text
    commands = text.split("set -euo pipefail")[1]  # after the header comments and the #SBATCH lines
    for part in ("--rdzv-backend=c10d", '--rdzv-endpoint="$head_node', "train_ddp.py", "srun"):
        assert part in commands, part
    assert "localhost" not in commands


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(f"nb09_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines the functions; main() runs only as a program
    return module


def test_ddp_script_scales_the_learning_rate_linearly_after_a_warm_up(programs):
    script = _import(programs["train_ddp.py"])
    args = script.parse_args(
        ["--batch-size", "64", "--lr", "0.1", "--lr-batch", "128", "--warmup-epochs", "4"]
    )
    lrs = [script.learning_rate(args, 8, epoch) for epoch in range(6)]  # global batch 512 = 4 x --lr-batch
    assert lrs == pytest.approx([0.1, 0.175, 0.25, 0.325, 0.4, 0.4])
    no_warmup = script.parse_args(["--batch-size", "32", "--lr", "0.05"])  # --lr-batch 64 by default
    assert [script.learning_rate(no_warmup, w, 0) for w in (1, 2, 16)] == pytest.approx([0.025, 0.05, 0.4])


def test_slurm_file_scales_the_learning_rate_with_a_warm_up(programs):
    commands = programs["ddp_multinode.sbatch"].read_text().split("set -euo pipefail")[1]
    (options,) = [line for line in commands.splitlines() if "--batch-size" in line]
    args = _import(programs["train_ddp.py"]).parse_args(shlex.split(options.rstrip("\\")))
    assert args.warmup_epochs >= 1 and args.lr_batch < 8 * args.batch_size  # 8 GPUs: the rate is scaled up
