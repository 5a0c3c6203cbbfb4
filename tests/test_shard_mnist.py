"""data_scripts.shard_mnist: shards cover the train set exactly once, sizes differ by at most 1, seeded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import MNIST_FILES, load_mnist, write_idx
from data_scripts.shard_mnist import MANIFEST, main, shard_indices, write_shards

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("n", "nodes", "devices"), [(4000, 2, 2), (60_000, 4, 2), (10, 3, 3), (7, 7, 1), (1001, 1, 8), (1, 1, 1)]
)
def test_union_is_everything_once_and_sizes_balanced(n, nodes, devices):
    shards = shard_indices(n, nodes, devices, seed=3)
    assert sorted(shards) == [(i, j) for i in range(nodes) for j in range(devices)]
    everything = np.concatenate(list(shards.values()))
    assert len(everything) == n  # no duplicates ...
    np.testing.assert_array_equal(np.sort(everything), np.arange(n))  # ... and nothing missing
    sizes = [len(idx) for idx in shards.values()]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_deterministic_by_seed():
    a, b, c = (shard_indices(1000, 2, 2, seed=s) for s in (0, 0, 1))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_shards_are_shuffled_not_contiguous_blocks():
    idx = shard_indices(1000, 1, 2, seed=0)[(0, 0)]
    assert not np.array_equal(np.sort(idx), np.arange(len(idx)))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((100, 0, 2), "nodes must be at least 1"),
        ((100, 2, 0), "devices_per_node must be at least 1"),
        ((100, -1, 1), "nodes must be at least 1"),
        ((3, 2, 2), "4 shards, but there are only 3 samples"),
        ((0, 1, 1), "1 shards, but there are only 0 samples"),
    ],
)
def test_clear_errors(args, match):
    with pytest.raises(ValueError, match=match):
        shard_indices(*args)


def test_non_integer_counts_are_rejected():
    with pytest.raises(TypeError, match="nodes must be an integer"):
        shard_indices(100, 1.5, 2)


@pytest.fixture
def small_mnist(tmp_path: Path) -> Path:
    """A 23-image train split (labels = image index % 10, every image distinct) in an MNIST folder."""
    src = tmp_path / "mnist"
    images = np.arange(23 * 784, dtype=np.int64).reshape(23, 28, 28) % 251
    images[:, 0, 0] = np.arange(23)  # a unique id in the first pixel of each image
    img, lbl = MNIST_FILES["train"]
    write_idx(src / img, images.astype(np.uint8))
    write_idx(src / lbl, (np.arange(23) % 10).astype(np.uint8))
    return src


def test_write_shards_layout_and_content(small_mnist: Path, tmp_path: Path):
    out = tmp_path / "shards"
    mapping = write_shards(small_mnist, out, nodes=2, devices_per_node=2, seed=0)
    assert mapping == {"node0/gpu0": 6, "node0/gpu1": 6, "node1/gpu0": 6, "node1/gpu1": 5}
    images, labels = load_mnist(small_mnist, "train")
    seen = []
    for (node, gpu), idx in shard_indices(23, 2, 2, seed=0).items():
        shard_images, shard_labels = load_mnist(out / f"node{node}" / f"gpu{gpu}", "train")
        np.testing.assert_array_equal(shard_images, images[idx])
        np.testing.assert_array_equal(shard_labels, labels[idx])
        seen += shard_images[:, 0, 0].tolist()
    assert sorted(seen) == list(range(23))
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["shards"] == mapping and manifest["seed"] == 0 and manifest["n_samples"] == 23
    assert not list(out.rglob("*.part"))


def test_rewriting_with_fewer_shards_removes_stale_ones(small_mnist: Path, tmp_path: Path):
    out = tmp_path / "shards"
    write_shards(small_mnist, out, nodes=3, devices_per_node=2)
    (out / "notes.txt").write_text("user file")  # never touched
    write_shards(small_mnist, out, nodes=1, devices_per_node=2)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.gz")) == [
        f"node0/gpu{j}/{name}" for j in range(2) for name in sorted(MNIST_FILES["train"])
    ]
    assert not (out / "node2").exists() and (out / "notes.txt").read_text() == "user file"


def test_write_shards_errors(small_mnist: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="only 23 samples"):
        write_shards(small_mnist, tmp_path / "out", nodes=6, devices_per_node=4)
    assert not (tmp_path / "out").exists()
    with pytest.raises(FileNotFoundError, match="fetch_mnist"):
        write_shards(tmp_path / "missing", tmp_path / "out", nodes=1, devices_per_node=1)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OSError, match="not a folder"):
        write_shards(small_mnist, blocker / "shards", nodes=1, devices_per_node=1)


def test_cli_prints_the_mapping(small_mnist: Path, tmp_path: Path, capsys):
    code = main(
        ["--nodes", "2", "--devices-per-node", "2", "--src", str(small_mnist), "--out", str(tmp_path / "s")]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "2 node(s) x 2 device(s) = 4 shards" in out
    for name, count, rank in (("node0/gpu0", 6, 0), ("node1/gpu1", 5, 3)):
        assert f"{name}" in out and f"{count:>7,} images  (global rank {rank})" in out
    assert main(["--nodes", "0", "--devices-per-node", "2", "--src", str(small_mnist)]) == 1
    assert "nodes must be at least 1" in capsys.readouterr().err


def test_cli_help_runs_as_module_and_as_script():
    for cmd in (["-m", "data_scripts.shard_mnist"], [str(ROOT / "data_scripts" / "shard_mnist.py")]):
        res = subprocess.run(
            [sys.executable, *cmd, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert res.returncode == 0 and "--devices-per-node" in res.stdout
