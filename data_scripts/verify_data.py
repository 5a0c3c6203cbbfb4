"""Check an MNIST folder: magic numbers, shapes, label range, SHA-256; say exactly what is wrong.

Usage::

    python -m data_scripts.verify_data [folder]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.data import MNIST_FILES, IdxFormatError, default_data_dir, read_idx  # noqa: E402


def verify(folder: Path) -> list[str]:
    """Return a list of problems (empty when the folder holds a valid MNIST)."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} does not exist: run `python -m data_scripts.fetch_mnist`"]
    problems = []
    for split, (img_name, lbl_name) in MNIST_FILES.items():
        arrays = {}
        for name in (img_name, lbl_name):
            path = folder / name
            if not path.is_file():
                problems.append(f"{path}: missing")
                continue
            try:
                arrays[name] = read_idx(path)
            except IdxFormatError as e:
                problems.append(str(e))
        if len(arrays) == 2:
            images, labels = arrays[img_name], arrays[lbl_name]
            if images.ndim != 3 or images.shape[1:] != (28, 28):
                problems.append(f"{folder / img_name}: shape {images.shape}, expected [N,28,28]")
            if len(images) != len(labels):
                problems.append(f"{split}: {len(images)} images but {len(labels)} labels")
            if labels.size and labels.max() > 9:
                problems.append(f"{folder / lbl_name}: label {labels.max()} outside 0..9")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m data_scripts.verify_data", description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=None, help=f"default: {default_data_dir()}")
    args = ap.parse_args(argv)
    folder = args.folder or default_data_dir()
    problems = verify(folder)
    if problems:
        print(f"{folder}: {len(problems)} problem(s)")
        for p in problems:
            print("  - " + p)
        return 1
    print(f"{folder}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
