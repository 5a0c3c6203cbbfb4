"""data_scripts.verify_data: every kind of damage is reported with the file and the problem; exit 1."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import MNIST_FILES, default_data_dir, read_idx, write_idx
from data_scripts import verify_data
from data_scripts.fetch_mnist import MARKER, SUBSET_IDX_SHA256
from data_scripts.verify_data import main, verify, verify_report

ROOT = Path(__file__).resolve().parent.parent
TRAIN_IMG, TRAIN_LBL = MNIST_FILES["train"]
TEST_IMG, TEST_LBL = MNIST_FILES["test"]


@pytest.fixture(scope="module")
def subset_copy_src(tmp_path_factory) -> Path:
    """The offline subset (the course's data folder, or freshly written when it is absent)."""
    src = default_data_dir()
    report = verify_report(src)
    if report.problems or report.data_set != "subset":
        from data_scripts.fetch_mnist import write_subset

        src = tmp_path_factory.mktemp("subset")
        write_subset(src)
    return src


@pytest.fixture
def subset(tmp_path: Path, subset_copy_src: Path) -> Path:
    """A private copy of the offline subset that a test may damage."""
    dst = tmp_path / "mnist"
    shutil.copytree(subset_copy_src, dst)
    return dst


def _only_problem(folder: Path) -> str:
    problems = verify(folder)
    assert len(problems) == 1, problems
    return problems[0]


def test_intact_subset_passes(subset: Path, capsys):
    report = verify_report(subset)
    assert report.problems == [] and report.data_set == "subset"
    assert report.counts == {"train": 4000, "test": 1000}
    assert main([str(subset)]) == 0
    assert "OK - the offline subset" in capsys.readouterr().out


def test_subset_recognised_without_marker(subset: Path):
    (subset / MARKER).unlink()
    assert verify_report(subset).data_set == "subset" and verify(subset) == []


def test_gunzipped_file_is_accepted(subset: Path):
    gz = subset / TEST_LBL
    (subset / TEST_LBL.removesuffix(".gz")).write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
    assert verify(subset) == []


def test_missing_folder_says_how_to_fetch(tmp_path: Path, capsys):
    missing = tmp_path / "nothing"
    problem = _only_problem(missing)
    assert str(missing) in problem and "does not exist" in problem and "data_scripts.fetch_mnist" in problem
    assert main([str(missing)]) == 1
    assert "1 problem(s)" in capsys.readouterr().out


def test_missing_file(subset: Path):
    (subset / TEST_LBL).unlink()
    problem = _only_problem(subset)
    assert str(subset / TEST_LBL) in problem and "missing" in problem


def test_checksum_mismatch(subset: Path):
    images = read_idx(subset / TRAIN_IMG)
    images[123, 14, 14] ^= 0xFF  # one pixel
    write_idx(subset / TRAIN_IMG, images)
    problem = _only_problem(subset)
    assert str(subset / TRAIN_IMG) in problem and "checksum mismatch" in problem
    assert SUBSET_IDX_SHA256[TRAIN_IMG] in problem


def test_wrong_magic_labels_written_as_images(subset: Path):
    write_idx(subset / TEST_LBL, np.zeros((1000, 28, 28), np.uint8))
    problem = _only_problem(subset)
    assert (
        str(subset / TEST_LBL) in problem and "wrong magic number 0x00000803" in problem and "2049" in problem
    )


def test_wrong_dtype_is_a_wrong_magic(subset: Path):
    write_idx(subset / TEST_LBL, read_idx(subset / TEST_LBL).astype(np.int32))
    problem = _only_problem(subset)
    assert "wrong magic number 0x00000C01" in problem and "int32" in problem


def test_wrong_image_shape(subset: Path):
    write_idx(subset / TEST_IMG, np.zeros((1000, 32, 32), np.uint8))
    problem = _only_problem(subset)
    assert str(subset / TEST_IMG) in problem and "32x32" in problem and "28x28" in problem


def test_label_out_of_range(subset: Path):
    labels = read_idx(subset / TEST_LBL)
    labels[:3] = 12
    write_idx(subset / TEST_LBL, labels)
    problem = _only_problem(subset)
    assert str(subset / TEST_LBL) in problem and "3 label(s) outside 0..9" in problem


def test_count_mismatch_between_images_and_labels(subset: Path):
    write_idx(subset / TEST_LBL, read_idx(subset / TEST_LBL)[:999])
    problems = verify(subset)
    assert any("split 'test' has 1,000 images" in p and "999 labels" in p for p in problems), problems
    assert any(str(subset / TEST_LBL) in p and "checksum mismatch" in p for p in problems), problems


def test_marker_disagrees_with_sizes(subset: Path):
    (subset / MARKER).write_text("full\n")
    problems = verify(subset)
    assert any("SOURCE says 'full' (60,000 train images) but split 'train' has 4,000" in p for p in problems)


def test_truncated_file_is_reported_not_raised(subset: Path):
    path = subset / TRAIN_IMG
    path.write_bytes(path.read_bytes()[:5000])
    problem = _only_problem(subset)
    assert str(path) in problem and "truncated" in problem


def test_several_problems_all_reported(subset: Path, capsys):
    (subset / TEST_LBL).unlink()
    (subset / TRAIN_IMG).write_bytes(b"")
    problems = verify(subset)
    assert len(problems) == 2
    assert main([str(subset)]) == 1
    out = capsys.readouterr().out
    assert "2 problem(s)" in out and "missing" in out and "empty" in out


def test_unknown_set_is_noted_not_failed(tmp_path: Path):
    for split, n in (("train", 7), ("test", 3)):
        img, lbl = MNIST_FILES[split]
        write_idx(tmp_path / img, np.zeros((n, 28, 28), np.uint8))
        write_idx(tmp_path / lbl, np.zeros(n, np.uint8))
    report = verify_report(tmp_path)
    assert report.problems == [] and report.data_set is None
    assert any("SHA-256 not checked" in note for note in report.notes)


def test_known_sets_cover_every_file():
    for gz_hashes, idx_hashes in verify_data.KNOWN_SETS.values():
        assert set(idx_hashes) == {n for pair in MNIST_FILES.values() for n in pair}
        assert gz_hashes is None or set(gz_hashes) == set(idx_hashes)


def test_cli_as_module_and_as_script(subset: Path):
    for cmd in (["-m", "data_scripts.verify_data"], [str(ROOT / "data_scripts" / "verify_data.py")]):
        res = subprocess.run(
            [sys.executable, *cmd, str(subset)], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert res.returncode == 0 and "OK" in res.stdout, res.stdout + res.stderr
