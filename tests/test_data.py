"""course_utils.data: IDX round trips for every dtype, and one clear error per kind of bad input.

Every bad-input test checks that the message names the file and the problem, and that nothing
(partial file, temporary file) is left behind.
"""

from __future__ import annotations

import errno
import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import (
    IDX_DTYPES,
    MNIST_FILES,
    IdxFormatError,
    idx_header,
    idx_sha256,
    load_mnist,
    read_idx,
    write_idx,
)

DTYPE_CODES = sorted(IDX_DTYPES)


def _listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: compared before/after a failure to prove nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _no_partial_files(folder: Path) -> None:
    leftovers = [p.name for p in folder.rglob("*") if p.name.endswith(".part")]
    assert not leftovers, f"temporary files left behind: {leftovers}"


def _sample(code: int, shape=(3, 300, 2)) -> np.ndarray:
    """Values that use every byte of the item, so a wrong byte order cannot go unnoticed."""
    dt = IDX_DTYPES[code].newbyteorder("=")
    rng = np.random.default_rng(code)
    if dt.kind == "f":
        return (rng.standard_normal(shape) * 1e3).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)


@pytest.fixture
def mnist_like(tmp_path: Path) -> Path:
    """A small valid images file (5 images) and its path."""
    images = np.arange(5 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(5, 28, 28)
    return write_idx(tmp_path / "images-idx3-ubyte", images)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("code", DTYPE_CODES, ids=[f"0x{c:02X}" for c in DTYPE_CODES])
def test_round_trip_every_dtype(tmp_path: Path, code: int, suffix: str):
    arr = _sample(code)
    path = write_idx(tmp_path / f"a.idx{suffix}", arr)
    back = read_idx(path)
    assert back.dtype == arr.dtype and back.dtype.isnative
    assert back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    assert back.flags.writeable and back.flags.c_contiguous
    _no_partial_files(tmp_path)


@pytest.mark.parametrize("code", DTYPE_CODES, ids=[f"0x{c:02X}" for c in DTYPE_CODES])
def test_bytes_on_disk_are_big_endian(tmp_path: Path, code: int):
    arr = _sample(code, shape=(2, 300, 1))  # 300 > 255: a little-endian dimension would read as 11,265
    raw = write_idx(tmp_path / "a.idx", arr).read_bytes()
    assert raw[:4] == bytes([0, 0, code, 3])
    assert raw[4:16] == b"\x00\x00\x00\x02" + b"\x00\x00\x01\x2c" + b"\x00\x00\x00\x01"
    assert raw[16:] == arr.astype(IDX_DTYPES[code]).tobytes()
    assert raw[:16] == idx_header(arr)


def test_gzip_round_trip_is_reproducible_and_read_without_suffix(tmp_path: Path):
    arr = _sample(0x08)
    a = write_idx(tmp_path / "a.gz", arr).read_bytes()
    b = write_idx(tmp_path / "b.gz", arr).read_bytes()
    assert a == b  # mtime 0: same input, same bytes
    assert gzip.decompress(a) == idx_header(arr) + arr.tobytes()
    (tmp_path / "no_suffix").write_bytes(a)  # gzip is detected by its magic bytes, not the name
    np.testing.assert_array_equal(read_idx(tmp_path / "no_suffix"), arr)


def test_multi_member_gzip(tmp_path: Path):
    raw = write_idx(tmp_path / "a.idx", _sample(0x0C)).read_bytes()
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(raw[:1001]) + b"\0\0\0" + gzip.compress(raw[1001:]))
    np.testing.assert_array_equal(read_idx(path), read_idx(tmp_path / "a.idx"))


@pytest.mark.parametrize("shape", [(0, 28, 28), (7,), ()])
def test_empty_and_scalar_shapes(tmp_path: Path, shape):
    arr = np.zeros(shape, dtype=np.uint8)
    for name in ("a.idx", "a.idx.gz"):
        back = read_idx(write_idx(tmp_path / name, arr))
        assert back.shape == shape and back.dtype == np.uint8


def test_idx_sha256_is_the_hash_of_the_uncompressed_file(tmp_path: Path):
    import hashlib

    arr = _sample(0x0D)
    path = write_idx(tmp_path / "a.idx", arr)
    assert idx_sha256(arr) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_write_rejects_dtypes_without_idx_code(tmp_path: Path):
    with pytest.raises(TypeError, match="no IDX code"):
        write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.uint16))
    assert not list(tmp_path.iterdir())


def test_load_mnist_offline_subset():
    images, labels = load_mnist(split="train")
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
    assert labels.dtype == np.uint8 and len(labels) == len(images)
    assert set(np.unique(labels)) == set(range(10))
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist(split="validation")


# ---------------------------------------------------------------- bad input: one test each


def _expect_error(path: Path, match: str, exc=IdxFormatError) -> str:
    folder = path.parent
    before = _listing(folder)
    with pytest.raises(exc) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message, f"the message does not name the file: {message}"
    assert match in message, message
    assert _listing(folder) == before
    _no_partial_files(folder)
    return message


def test_truncated_file(mnist_like: Path):
    raw = mnist_like.read_bytes()
    mnist_like.write_bytes(raw[:-100])
    msg = _expect_error(mnist_like, "truncated")
    assert "3,920 payload bytes" in msg and "3,820" in msg


def test_truncated_gzip_file(mnist_like: Path):
    gz = write_idx(mnist_like.with_suffix(".gz"), read_idx(mnist_like))
    gz.write_bytes(gz.read_bytes()[:-20])
    _expect_error(gz, "truncated")


def test_truncated_header(tmp_path: Path):
    path = tmp_path / "short-header.idx"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + b"\x00\x00\x00\x05")  # says 3 dims, holds 1
    _expect_error(path, "truncated header")


def test_wrong_magic(mnist_like: Path):
    raw = bytearray(mnist_like.read_bytes())
    raw[0] = 0x42
    mnist_like.write_bytes(bytes(raw))
    _expect_error(mnist_like, "bad magic number")


def test_unknown_dtype_code(mnist_like: Path):
    raw = bytearray(mnist_like.read_bytes())
    raw[2] = 0x0A  # between int8 (0x09) and int16 (0x0B): not an IDX type
    mnist_like.write_bytes(bytes(raw))
    _expect_error(mnist_like, "unknown IDX dtype code 0x0A")


def test_dimensions_not_matching_payload(mnist_like: Path):
    raw = bytearray(mnist_like.read_bytes())
    raw[4:8] = struct.pack(">I", 4)  # header says 4 images, the payload holds 5
    mnist_like.write_bytes(bytes(raw))
    msg = _expect_error(mnist_like, "do not match the payload")
    assert "(4, 28, 28)" in msg and "784 extra" in msg


def test_dimensions_too_large_for_a_gzip_file(tmp_path: Path):
    path = tmp_path / "huge.gz"  # header claims 4e9 x 28 x 28 images: rejected before any allocation
    path.write_bytes(
        gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 4_000_000_000, 28, 28) + b"\0" * 50)
    )
    _expect_error(path, "more than a")


def test_non_gzip_bytes_in_gz(tmp_path: Path, mnist_like: Path):
    path = tmp_path / "images.gz"
    path.write_bytes(mnist_like.read_bytes())  # a plain IDX file under a .gz name
    _expect_error(path, "not gzip data")


def test_corrupt_gzip_stream(tmp_path: Path, mnist_like: Path):
    path = tmp_path / "corrupt.gz"
    path.write_bytes(b"\x1f\x8b" + b"this is not a deflate stream at all" * 5)
    _expect_error(path, "gzip stream is corrupt")


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty-idx1-ubyte"
    path.write_bytes(b"")
    _expect_error(path, "empty")


def test_empty_gzip_payload(tmp_path: Path):
    path = tmp_path / "empty.gz"
    path.write_bytes(gzip.compress(b""))
    _expect_error(path, "decompressed data is empty")


def test_checksum_mismatch_in_gzip(tmp_path: Path, mnist_like: Path):
    gz = write_idx(tmp_path / "a.gz", read_idx(mnist_like))
    raw = bytearray(gz.read_bytes())
    raw[-8] ^= 0xFF  # the gzip trailer's CRC-32 of the payload
    gz.write_bytes(bytes(raw))
    _expect_error(gz, "incorrect data check")


def test_missing_file(tmp_path: Path):
    _expect_error(tmp_path / "nope.idx", "no such IDX file", exc=FileNotFoundError)


def test_missing_data_folder_says_how_to_fetch(tmp_path: Path):
    missing = tmp_path / "no-mnist-here"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(missing)
    assert str(missing) in str(info.value) and "data_scripts.fetch_mnist" in str(info.value)
    assert not missing.exists()


def test_folder_missing_one_file_names_it(tmp_path: Path):
    write_idx(tmp_path / MNIST_FILES["test"][0], np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(FileNotFoundError, match=MNIST_FILES["test"][1]):
        load_mnist(tmp_path, split="test")


def test_load_mnist_rejects_mismatched_counts(tmp_path: Path):
    img, lbl = MNIST_FILES["test"]
    write_idx(tmp_path / img, np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / lbl, np.zeros(2, np.uint8))
    with pytest.raises(IdxFormatError, match="3 images but 2 labels"):
        load_mnist(tmp_path, split="test")


def test_unwritable_output_folder_parent_is_a_file(tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file")
    before = _listing(tmp_path)
    for target in (blocker / "a.idx.gz", blocker / "deeper" / "a.idx"):
        with pytest.raises(OSError) as info:
            write_idx(target, np.zeros(3, np.uint8))
        assert str(target) in str(info.value) and "not a folder" in str(info.value)
    assert _listing(tmp_path) == before
    _no_partial_files(tmp_path)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_unwritable_output_folder_permissions(tmp_path: Path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OSError, match="not writable"):
            write_idx(folder / "a.idx", np.zeros(3, np.uint8))
        assert not list(folder.iterdir())
    finally:
        folder.chmod(0o755)


def test_failed_write_leaves_old_file_and_no_partial_file(tmp_path: Path, monkeypatch):
    target = write_idx(tmp_path / "a.idx.gz", np.ones(10, np.uint8))
    before = _listing(tmp_path)

    def disk_full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gzip.GzipFile, "write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_idx(target, np.zeros(10_000, np.uint8))
    assert _listing(tmp_path) == before  # the old file is intact, the temporary file is gone
    _no_partial_files(tmp_path)


@pytest.mark.slow  # imports torch (machine_label) and builds files: a few seconds
def test_benchmark_script_runs_on_a_tiny_file(capsys):
    """Smoke test only: benchmarks/idx_reader_speed.py runs end to end (its timings are never asserted)."""
    import runpy

    bench = runpy.run_path(str(Path(__file__).resolve().parent.parent / "benchmarks" / "idx_reader_speed.py"))
    assert bench["main"](["--images", "50", "--repeats", "1", "--article-repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "faster than the article's reader" in out and "decompression floor" in out
