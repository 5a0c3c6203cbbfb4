"""data_scripts.fetch_mnist: the download path against a real HTTP server on 127.0.0.1 (never the internet),
and the offline subset.

The mirrors below are ``http.server`` instances started in a thread on a free port; each serves the four
file names with a chosen behaviour: the right bytes, wrong bytes, a transfer cut short, or 404.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import MNIST_FILES, read_idx, write_idx
from data_scripts import fetch_mnist
from data_scripts.fetch_mnist import MARKER, FetchError, fetch_full, write_subset

NAMES = [n for pair in MNIST_FILES.values() for n in pair]


# ---------------------------------------------------------------- a local mirror


class Mirror:
    """An HTTP server on 127.0.0.1 serving ``files`` under ``/mnist/`` with one behaviour for all of them.

    ``mode``: "ok" (the bytes), "wrong" (other bytes of the same length), "cut" (Content-Length of the
    whole file, then half of it and the connection closes), "404".
    """

    def __init__(self, files: dict[str, bytes], mode: str = "ok"):
        self.files, self.mode, self.requests = files, mode, []
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                mirror.requests.append(self.path)
                name = self.path.rsplit("/", 1)[-1]
                body = mirror.files.get(name) if self.path.startswith("/mnist/") else None
                if body is None or mirror.mode == "404":
                    self.send_error(404, "Not Found")
                    return
                if mirror.mode == "wrong":
                    body = bytes(b ^ 0x5A for b in body)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mirror.mode == "cut":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mnist/"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _dead_url() -> str:
    """A URL on a port where nothing listens (bound, then closed): connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """A proxy from the environment must not intercept requests to 127.0.0.1."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def fake_full(tmp_path_factory) -> tuple[dict[str, bytes], dict[str, str]]:
    """Four small, valid MNIST-format .gz files standing in for the real ones, and their SHA-256."""
    src = tmp_path_factory.mktemp("fake-mnist")
    rng = np.random.default_rng(0)
    files = {}
    for split, n in (("train", 12), ("test", 5)):
        img, lbl = MNIST_FILES[split]
        files[img] = write_idx(src / img, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)).read_bytes()
        files[lbl] = write_idx(src / lbl, rng.integers(0, 10, n, dtype=np.uint8)).read_bytes()
    return files, {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}


@pytest.fixture
def mirrors() -> Iterator:
    started: list[Mirror] = []

    def start(files, mode="ok") -> Mirror:
        started.append(Mirror(files, mode))
        return started[-1]

    yield start
    for m in started:
        m.close()


def _listing(folder: Path) -> dict[str, bytes]:
    return (
        {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()} if folder.exists() else {}
    )


def _no_partial_files(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".part")]


# ---------------------------------------------------------------- download path


def test_good_mirror_writes_verified_files_and_marker(tmp_path, fake_full, mirrors):
    files, sha = fake_full
    good = mirrors(files)
    logs: list[str] = []
    sources = fetch_full(tmp_path, mirrors=[good.url], expected=sha, timeout=5, log=logs.append)
    assert sources == dict.fromkeys(sha, good.url)
    assert _listing(tmp_path) == {**files, MARKER: b"full\n"}
    assert read_idx(tmp_path / NAMES[0]).shape == (12, 28, 28)
    assert all("SHA-256 verified" in line for line in logs)
    _no_partial_files(tmp_path)


def test_wrong_hash_moves_to_next_mirror(tmp_path, fake_full, mirrors):
    files, sha = fake_full
    bad, good = mirrors(files, "wrong"), mirrors(files)
    logs: list[str] = []
    sources = fetch_full(tmp_path, mirrors=[bad.url, good.url], expected=sha, timeout=5, log=logs.append)
    assert set(sources.values()) == {good.url}
    assert len(bad.requests) == 4 and len(good.requests) == 4
    assert sum("SHA-256 mismatch" in line for line in logs) == 4
    assert _listing(tmp_path) == {**files, MARKER: b"full\n"}
    _no_partial_files(tmp_path)


def test_dead_mirror_then_good_one(tmp_path, fake_full, mirrors):
    files, sha = fake_full
    good = mirrors(files)
    logs: list[str] = []
    sources = fetch_full(tmp_path, mirrors=[_dead_url(), good.url], expected=sha, timeout=5, log=logs.append)
    assert set(sources.values()) == {good.url}
    assert sum("cannot connect" in line for line in logs) == 4
    assert _listing(tmp_path) == {**files, MARKER: b"full\n"}


def test_interrupted_transfer_then_good_mirror(tmp_path, fake_full, mirrors):
    files, sha = fake_full
    cut, good = mirrors(files, "cut"), mirrors(files)
    logs: list[str] = []
    fetch_full(tmp_path, mirrors=[cut.url, good.url], expected=sha, timeout=5, log=logs.append)
    assert sum("interrupted" in line for line in logs) == 4
    assert _listing(tmp_path) == {**files, MARKER: b"full\n"}
    _no_partial_files(tmp_path)


def test_interrupted_transfer_everywhere_leaves_folder_untouched(tmp_path, fake_full, mirrors):
    files, sha = fake_full
    (tmp_path / MARKER).write_text("subset\n")  # whatever was there before must survive a failed fetch
    (tmp_path / NAMES[0]).write_bytes(b"previous contents")
    before = _listing(tmp_path)
    cut = mirrors(files, "cut")
    with pytest.raises(FetchError) as info:
        fetch_full(tmp_path, mirrors=[cut.url], expected=sha, timeout=5, log=lambda s: None)
    message = str(info.value)
    assert NAMES[0] in message and cut.url in message and "interrupted after" in message
    assert _listing(tmp_path) == before
    _no_partial_files(tmp_path)


def test_all_mirrors_failing_names_what_each_did(tmp_path, fake_full, mirrors):
    files, sha = fake_full
    dead, bad, missing = _dead_url(), mirrors(files, "wrong"), mirrors(files, "404")
    with pytest.raises(FetchError) as info:
        fetch_full(
            tmp_path, mirrors=[dead, bad.url, missing.url], expected=sha, timeout=5, log=lambda s: None
        )
    message = str(info.value)
    assert f"{dead}{NAMES[0]}: cannot connect" in message
    assert f"{bad.url}{NAMES[0]}: SHA-256 mismatch" in message
    assert f"{missing.url}{NAMES[0]}: HTTP 404" in message
    assert "Nothing in" in message and "offline subset" in message
    assert _listing(tmp_path) == {}
    _no_partial_files(tmp_path)


def test_a_later_file_failing_changes_nothing(tmp_path, fake_full, mirrors):
    files, sha = fake_full
    partial = mirrors({k: v for k, v in files.items() if k != NAMES[-1]})  # serves 3 of the 4 files
    with pytest.raises(FetchError, match=NAMES[-1]):
        fetch_full(tmp_path, mirrors=[partial.url], expected=sha, timeout=5, log=lambda s: None)
    assert _listing(tmp_path) == {}  # the three good downloads were not renamed into place
    _no_partial_files(tmp_path)


def test_rerun_verifies_and_downloads_nothing(tmp_path, fake_full, mirrors):
    files, sha = fake_full
    good = mirrors(files)
    fetch_full(tmp_path, mirrors=[good.url], expected=sha, timeout=5, log=lambda s: None)
    first = _listing(tmp_path)
    n_requests = len(good.requests)
    sources = fetch_full(tmp_path, mirrors=[good.url], expected=sha, timeout=5, log=lambda s: None)
    assert sources == dict.fromkeys(sha, "already present")
    assert len(good.requests) == n_requests
    assert _listing(tmp_path) == first


def test_rerun_replaces_only_a_damaged_file(tmp_path, fake_full, mirrors):
    files, sha = fake_full
    good = mirrors(files)
    fetch_full(tmp_path, mirrors=[good.url], expected=sha, timeout=5, log=lambda s: None)
    (tmp_path / NAMES[1]).write_bytes(b"damaged")
    sources = fetch_full(tmp_path, mirrors=[good.url], expected=sha, timeout=5, log=lambda s: None)
    assert sources[NAMES[1]] == good.url and list(sources.values()).count("already present") == 3
    assert _listing(tmp_path) == {**files, MARKER: b"full\n"}


def test_fetch_into_unwritable_folder(tmp_path, fake_full):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OSError, match="not a folder") as info:
        fetch_full(blocker / "mnist", mirrors=[_dead_url()], expected=fake_full[1], timeout=5)
    assert str(blocker / "mnist") in str(info.value)
    assert blocker.read_text() == "x"


def test_published_constants_are_consistent():
    assert set(fetch_mnist.FULL_SHA256) == set(NAMES) == set(fetch_mnist.FULL_IDX_SHA256)
    assert set(fetch_mnist.SUBSET_IDX_SHA256) == set(NAMES) == set(fetch_mnist.FULL_SIZES)
    for table in (fetch_mnist.FULL_SHA256, fetch_mnist.FULL_IDX_SHA256, fetch_mnist.SUBSET_IDX_SHA256):
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in table.values())
    assert len(fetch_mnist.MIRRORS) >= 2


# ---------------------------------------------------------------- offline subset


@pytest.fixture(scope="module")
def subset_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("subset")
    assert write_subset(out) == {"train": 4000, "test": 1000}
    return out


def test_offline_subset_sizes_and_stratification(subset_dir):
    for split, per_class in (("train", 400), ("test", 100)):
        img, lbl = MNIST_FILES[split]
        images, labels = read_idx(subset_dir / img), read_idx(subset_dir / lbl)
        assert images.shape == (10 * per_class, 28, 28) and images.dtype == np.uint8
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), [per_class] * 10)
    assert (subset_dir / MARKER).read_text() == "subset\n"


def test_offline_subset_is_shuffled(subset_dir):
    labels = read_idx(subset_dir / MNIST_FILES["train"][1])
    assert np.any(np.diff(labels.astype(int)) < 0), "train labels are sorted: the split was not shuffled"
    assert len(np.unique(labels[:100])) == 10  # every digit among the first 100 images


def test_offline_subset_matches_recorded_hashes(subset_dir):
    from data_scripts.verify_data import verify_report

    report = verify_report(subset_dir)
    assert report.problems == [] and report.data_set == "subset"


def test_main_subset_then_rerun_does_nothing(tmp_path, capsys):
    out = tmp_path / "mnist"
    assert fetch_mnist.main(["--out", str(out)]) == 0
    assert "wrote the offline MNIST subset" in capsys.readouterr().out
    first = _listing(out)
    assert fetch_mnist.main(["--out", str(out)]) == 0
    assert "already present" in capsys.readouterr().out and _listing(out) == first


def test_main_reports_unwritable_folder(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert fetch_mnist.main(["--out", str(blocker / "mnist")]) == 1
    err = capsys.readouterr().err
    assert "cannot write MNIST" in err and str(blocker) in err


def test_main_full_then_rerun_then_plain_run_keeps_full(tmp_path, fake_full, mirrors, monkeypatch, capsys):
    """The CLI end to end, with the module constants pointed at a local mirror and the fake files."""
    from course_utils.data import idx_sha256
    from data_scripts import verify_data

    files, sha = fake_full
    good = mirrors(files)
    src = tmp_path / "src"
    src.mkdir()
    content = {}
    for name, body in files.items():
        (src / name).write_bytes(body)
        content[name] = idx_sha256(read_idx(src / name))
    monkeypatch.setattr(fetch_mnist, "MIRRORS", (_dead_url(), good.url))
    monkeypatch.setattr(fetch_mnist, "FULL_SHA256", sha)
    monkeypatch.setitem(verify_data.KNOWN_SETS, "full", (sha, content))
    monkeypatch.setitem(verify_data.SET_SIZES, "full", {"train": 12, "test": 5})
    out = tmp_path / "mnist"
    assert fetch_mnist.main(["--full", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cannot connect" in text and "SHA-256 verified" in text and "wrote the full MNIST" in text
    assert (out / MARKER).read_text() == "full\n"
    n_requests = len(good.requests)
    assert fetch_mnist.main(["--full", "--out", str(out)]) == 0
    assert "already present" in capsys.readouterr().out
    assert fetch_mnist.main(["--out", str(out)]) == 0  # no --full: a verified full set is kept
    assert "keeping it" in capsys.readouterr().out
    assert len(good.requests) == n_requests and (out / MARKER).read_text() == "full\n"
