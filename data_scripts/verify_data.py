"""Check an MNIST folder and say exactly what is wrong: which file, which problem.

Checked for each of the four files: present, readable IDX (header, gzip stream, payload size), magic number
(2051 = uint8 images with 3 dimensions, 2049 = uint8 labels with 1 dimension), image shape [N, 28, 28],
labels in 0..9, as many images as labels; and, for the two known sets (the full MNIST and the offline
subset, named by the folder's ``SOURCE`` file or recognised by their sizes), the split sizes and the SHA-256
of every file. Exit status 1 when anything is wrong. Usage::

    python -m data_scripts.verify_data [folder]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.data import (  # noqa: E402
    MNIST_FILES,
    IdxFormatError,
    default_data_dir,
    idx_sha256,
    read_idx,
)
from data_scripts.fetch_mnist import (  # noqa: E402
    FULL_IDX_SHA256,
    FULL_SHA256,
    MARKER,
    SET_SIZES,
    SUBSET_IDX_SHA256,
    sha256_file,
)

#: Magic number, dtype and number of dimensions of each kind of MNIST file.
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801  # 2051, 2049
_EXPECTED = {"images": (IMAGES_MAGIC, 3), "labels": (LABELS_MAGIC, 1)}
_DTYPE_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D, "float64": 0x0E}
#: Known sets: name -> (SHA-256 of the .gz as published or None, SHA-256 of the uncompressed IDX content).
KNOWN_SETS: dict[str, tuple[dict[str, str] | None, dict[str, str]]] = {
    "full": (FULL_SHA256, FULL_IDX_SHA256),
    "subset": (None, SUBSET_IDX_SHA256),
}
_SET_NAMES = {"full": "the full MNIST", "subset": "the offline subset"}
_FETCH = {"full": "python -m data_scripts.fetch_mnist --full", "subset": "python -m data_scripts.fetch_mnist"}


@dataclass
class Report:
    """What :func:`verify_report` found: ``problems`` (empty when all is well), ``notes``, and the set."""

    folder: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data_set: str | None = None  # "full", "subset" or None when not a known set
    counts: dict[str, int] = field(default_factory=dict)


def _locate(folder: Path, name: str) -> Path | None:
    """``name`` or its uncompressed twin (``load_mnist`` accepts both)."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _magic(arr: np.ndarray) -> int:
    return (_DTYPE_CODES.get(arr.dtype.name, 0) << 8) | arr.ndim


def _check_file(path: Path, kind: str, arr: np.ndarray) -> list[str]:
    """Magic number, image shape and label range of one readable file."""
    magic, ndim = _EXPECTED[kind]
    found = _magic(arr)
    if found != magic:
        what = "uint8 images with 3 dimensions" if kind == "images" else "uint8 labels with 1 dimension"
        return [
            f"{path}: wrong magic number 0x{found:08X} ({found}; {arr.dtype.name}, {arr.ndim} dimensions) - "
            f"MNIST {kind} have 0x{magic:08X} ({magic}: {what})"
        ]
    if kind == "images" and arr.shape[1:] != (28, 28):
        return [f"{path}: images are {arr.shape[1]}x{arr.shape[2]}, MNIST images are 28x28"]
    if kind == "labels" and arr.size and int(arr.max()) > 9:
        bad = int(np.count_nonzero(arr > 9))
        return [f"{path}: {bad:,} label(s) outside 0..9 (largest {int(arr.max())})"]
    return []


def _check_hash(path: Path, name: str, arr: np.ndarray, data_set: str) -> str | None:
    """None when the file is the known set's file, else the problem."""
    gz_hashes, idx_hashes = KNOWN_SETS[data_set]
    if gz_hashes is not None and path.name == name and sha256_file(path) == gz_hashes[name]:
        return None  # byte-identical to the published download
    got = idx_sha256(arr)
    if got == idx_hashes[name]:
        return None
    return (
        f"{path}: checksum mismatch - SHA-256 of the IDX content is {got}, expected {idx_hashes[name]} "
        f"({_SET_NAMES[data_set]}): the file is damaged or comes from another data set; fetch it again "
        f"(`{_FETCH[data_set]}`)"
    )


def _which_set(marker: str | None, counts: dict[str, int]) -> str | None:
    if marker in KNOWN_SETS:
        return marker
    for name, sizes in SET_SIZES.items():
        if counts == sizes:
            return name
    return None


def verify_report(folder: str | Path) -> Report:
    """Check ``folder`` (see the module docstring) and return everything found."""
    folder = Path(folder)
    report = Report(folder)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        report.problems.append(
            f"{folder} {what}: run `python -m data_scripts.fetch_mnist` to write the offline subset "
            "(add --full for all 70,000 images)"
        )
        return report
    arrays: dict[str, tuple[Path, np.ndarray]] = {}
    for split, (img_name, lbl_name) in MNIST_FILES.items():
        for kind, name in (("images", img_name), ("labels", lbl_name)):
            path = _locate(folder, name)
            if path is None:
                report.problems.append(f"{folder / name}: missing (run `python -m data_scripts.fetch_mnist`)")
                continue
            try:
                arr = read_idx(path)
            except (IdxFormatError, OSError) as e:
                report.problems.append(str(e))
                continue
            file_problems = _check_file(path, kind, arr)
            report.problems += file_problems
            if not file_problems:
                arrays[name] = (path, arr)
        if img_name in arrays and lbl_name in arrays:
            n_img, n_lbl = len(arrays[img_name][1]), len(arrays[lbl_name][1])
            if n_img != n_lbl:
                report.problems.append(
                    f"{folder}: split {split!r} has {n_img:,} images ({arrays[img_name][0].name}) "
                    f"but {n_lbl:,} labels ({arrays[lbl_name][0].name})"
                )
            else:
                report.counts[split] = n_img
    marker_path = folder / MARKER
    marker = marker_path.read_text().strip() if marker_path.is_file() else None
    if marker is not None and marker not in KNOWN_SETS:
        report.problems.append(f"{marker_path}: unknown source {marker!r} (expected 'full' or 'subset')")
    data_set = _which_set(marker, report.counts)
    report.data_set = data_set
    if data_set is None:
        if len(report.counts) == len(MNIST_FILES):
            report.notes.append(
                f"SHA-256 not checked: {report.counts} is neither the full MNIST nor the offline subset"
            )
        return report
    for split, n in report.counts.items():
        if n != SET_SIZES[data_set][split]:
            report.problems.append(
                f"{folder}: {MARKER} says {data_set!r} ({SET_SIZES[data_set][split]:,} {split} images) "
                f"but split {split!r} has {n:,}"
            )
    for name, (path, arr) in arrays.items():
        problem = _check_hash(path, name, arr, data_set)
        if problem:
            report.problems.append(problem)
    return report


def verify(folder: str | Path) -> list[str]:
    """Return a list of problems, one line each naming the file (empty when the folder is a valid MNIST)."""
    return verify_report(folder).problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m data_scripts.verify_data", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("folder", nargs="?", type=Path, default=None, help=f"default: {default_data_dir()}")
    args = ap.parse_args(argv)
    folder = args.folder or default_data_dir()
    report = verify_report(folder)
    for note in report.notes:
        print(f"note: {note}")
    if report.problems:
        print(f"{folder}: {len(report.problems)} problem(s)")
        for p in report.problems:
            print("  - " + p)
        return 1
    counts = ", ".join(f"{n:,} {split}" for split, n in report.counts.items())
    what = _SET_NAMES.get(report.data_set or "", "MNIST-format data")
    hashes = "SHA-256 verified" if report.data_set else "SHA-256 not checked"
    print(f"{folder}: OK - {what} ({counts}); magic numbers, shapes, labels checked, {hashes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
