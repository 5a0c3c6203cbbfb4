"""Split the MNIST train set into one shard per device: ``node{i}/gpu{j}`` for N nodes x M devices.

This is what the original article's shell script meant to do (seed erratum 5: ``{{0..{num_nodes}-1}}`` is
not bash, ``tee`` wrote into a directory, MNIST is four files rather than ten per digit, and the folders it
created were not the ones it used). Here the train images are shuffled with a seed and dealt into
``nodes * devices_per_node`` shards whose sizes differ by at most one; every image lands in exactly one
shard. Shard ``node{i}/gpu{j}`` is meant for the process with ``NODE_RANK=i`` and ``LOCAL_RANK=j``
(global rank ``i * devices_per_node + j``); it holds the two standard train files, so
``load_mnist("<out>/node{i}/gpu{j}")`` reads it. Taught in notebook 04. Usage::

    python -m data_scripts.shard_mnist --nodes 2 --devices-per-node 2 [--src data/mnist] [--out data/shards] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.data import MNIST_FILES, default_data_dir, load_mnist, write_idx  # noqa: E402

MANIFEST = "shards.json"  # written in out_root: the layout, the seed and each shard's size

__all__ = ["shard_indices", "write_shards", "shard_name", "main"]


def shard_name(node: int, device: int) -> str:
    """The folder of one shard, relative to the output root: ``node{node}/gpu{device}``."""
    return f"node{node}/gpu{device}"


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be at least 1, got {value}")
    return int(value)


def shard_indices(
    n_samples: int, nodes: int, devices_per_node: int, seed: int = 0
) -> dict[tuple[int, int], np.ndarray]:
    """Deal ``range(n_samples)`` into ``nodes * devices_per_node`` disjoint shards (notebook 04).

    Returns ``{(node, device): indices}``: a seeded permutation cut into consecutive pieces, so the union is
    every index exactly once, shard sizes differ by at most 1 (the first ``n_samples % shards`` shards get one
    more), and the same arguments always give the same shards.
    """
    nodes = _positive_int(nodes, "nodes")
    devices_per_node = _positive_int(devices_per_node, "devices_per_node")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
        raise ValueError(f"n_samples must be a non-negative integer, got {n_samples!r}")
    n_shards = nodes * devices_per_node
    if n_shards > n_samples:
        raise ValueError(
            f"{nodes} node(s) x {devices_per_node} device(s) = {n_shards} shards, but there are only "
            f"{n_samples} samples: some shards would be empty; use fewer shards or more data"
        )
    order = np.random.default_rng(seed).permutation(int(n_samples))
    pieces = np.array_split(order, n_shards)
    return {
        (node, device): pieces[node * devices_per_node + device]
        for node in range(nodes)
        for device in range(devices_per_node)
    }


def _remove_stale(out_root: Path, keep: set[str]) -> None:
    """Delete the shard files a previous run listed in its manifest that the new layout does not use."""
    manifest = out_root / MANIFEST
    if not manifest.is_file():
        return
    try:
        old = json.loads(manifest.read_text()).get("shards", {})
    except (OSError, ValueError):
        return
    for name in old:
        if name in keep:
            continue
        folder = out_root / name
        for file_name in MNIST_FILES["train"]:
            (folder / file_name).unlink(missing_ok=True)
        for empty in (folder, folder.parent):
            try:
                empty.rmdir()  # only succeeds when empty: nothing else is ever deleted
            except OSError:
                pass


def write_shards(
    src_root: str | os.PathLike | None,
    out_root: str | os.PathLike,
    nodes: int,
    devices_per_node: int,
    seed: int = 0,
) -> dict[str, int]:
    """Write one train-file pair per shard under ``out_root/node{i}/gpu{j}``; return ``{"node{i}/gpu{j}": size}``.

    ``src_root`` is an MNIST folder (``None``: the course default). Each file is written atomically, and a
    ``shards.json`` manifest records the layout; shard files of an earlier, different layout are removed.
    """
    images, labels = load_mnist(src_root, split="train")
    shards = shard_indices(len(labels), nodes, devices_per_node, seed)
    out_root = Path(out_root)
    img_name, lbl_name = MNIST_FILES["train"]
    mapping: dict[str, int] = {}
    for (node, device), idx in shards.items():
        name = shard_name(node, device)
        write_idx(out_root / name / img_name, images[idx])
        write_idx(out_root / name / lbl_name, labels[idx])
        mapping[name] = len(idx)
    _remove_stale(out_root, set(mapping))
    manifest = {
        "nodes": nodes,
        "devices_per_node": devices_per_node,
        "seed": seed,
        "source": str(Path(src_root) if src_root is not None else default_data_dir()),
        "n_samples": int(len(labels)),
        "shards": mapping,
    }
    tmp = out_root / f".{MANIFEST}.part"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, out_root / MANIFEST)
    return mapping


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m data_scripts.shard_mnist", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--nodes", type=int, required=True, help="number of machines (N >= 1)")
    ap.add_argument(
        "--devices-per-node", type=int, required=True, help="devices (GPUs or processes) per node"
    )
    ap.add_argument("--src", type=Path, default=None, help=f"MNIST folder (default: {default_data_dir()})")
    ap.add_argument(
        "--out", type=Path, default=None, help="output folder (default: data/shards beside --src)"
    )
    ap.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0)")
    args = ap.parse_args(argv)
    src = args.src or default_data_dir()
    out = args.out or src.parent / "shards"
    try:
        mapping = write_shards(src, out, args.nodes, args.devices_per_node, args.seed)
    except (ValueError, TypeError, FileNotFoundError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    total = sum(mapping.values())
    print(
        f"sharded {total:,} training images from {src} into {args.nodes} node(s) x {args.devices_per_node} "
        f"device(s) = {len(mapping)} shards (seed {args.seed}) under {out}:"
    )
    width = max(len(name) for name in mapping)
    for rank, (name, count) in enumerate(mapping.items()):
        print(f"  {name:<{width}}  {count:>7,} images  (global rank {rank})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
