"""Helpers of the JupyterLab browser test: a throw-away JupyterLab server and Debian's Chromium.

* :func:`jupyter_lab` starts ``jupyter lab`` from this environment on 127.0.0.1 (a free port, a token,
  every Jupyter config/runtime/settings/workspace folder inside a temporary folder, the news pop-up
  silenced), waits until ``/api/status`` answers, and stops the server and its kernels afterwards.
* :func:`launch_chromium` starts ``/usr/bin/chromium`` (the Debian package) through the PyPI
  ``playwright`` package. Playwright never downloads a browser here (no ``playwright install``).
* :func:`open_notebook`, :func:`wait_kernel_idle`, :func:`run_all` drive the JupyterLab page with waits on
  selectors, never fixed sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
]
#: JupyterLab's "would you like to receive news?" toast would cover the notebook.
NOTIFICATION_SETTINGS = (
    "@jupyterlab/apputils-extension",
    "notification",
    {"fetchNews": "false", "checkForUpdates": False},
)


def chromium_missing_reason() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if not CHROMIUM.exists():
        return (
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does "
            "this in CI) to run the JupyterLab browser test"
        )
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class LabServer:
    """A running JupyterLab: where it listens and how to log in."""

    url: str
    token: str
    root: Path
    log: Path

    def lab_url(self, path: str = "") -> str:
        """The JupyterLab page of ``path`` (relative to the server's root), with the token."""
        return f"{self.url}/lab/tree/{path}?token={self.token}"

    def log_tail(self, n: int = 40) -> str:
        """The last lines the server printed (for failure messages)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def _write_settings(settings_dir: Path) -> None:
    ext, name, values = NOTIFICATION_SETTINGS
    target = settings_dir / ext / f"{name}.jupyterlab-settings"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(values))


@contextmanager
def jupyter_lab(root: Path, tmp: Path, start_timeout: float = 90.0) -> Iterator[LabServer]:
    """Run JupyterLab on ``root`` (a folder of notebooks) until the ``with`` block ends."""
    token = os.urandom(16).hex()
    port = free_port()
    dirs = {name: tmp / "jupyter" / name for name in ("config", "runtime", "settings", "workspaces", "data")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    _write_settings(dirs["settings"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "COURSE_CHECKS_LOG"))}
    env.pop("MPLBACKEND", None)  # let the kernel pick matplotlib's inline backend, as a learner's would
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_PLATFORM_DIRS="1",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp / "jupyterlab.log"
    server = LabServer(f"http://127.0.0.1:{port}", token, root, log)
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_for_status(server, proc, start_timeout)
        yield server
    finally:
        _stop(proc)


def _wait_for_status(server: LabServer, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = f"{server.url}/api/status?token={server.token}"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"jupyter lab did not answer {server.url}/api/status in {timeout:.0f} s:\n{server.log_tail()}"
            )
        time.sleep(0.3)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server (it shuts its kernels down), then SIGKILL its whole session if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # our own session only: the server and kernels it started
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(timeout=10)


@contextmanager
def launch_chromium(home: Path) -> Iterator[object]:
    """Yield a Playwright ``Browser`` driving Debian's Chromium, headless, with ``HOME`` in ``home``."""
    from playwright.sync_api import sync_playwright

    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=env, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


def open_notebook(page, server: LabServer, name: str, timeout_ms: int = 90_000) -> None:
    """Open ``name`` in JupyterLab and wait until its notebook panel shows cells."""
    page.goto(server.lab_url(name), wait_until="domcontentloaded", timeout=timeout_ms)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(state="visible", timeout=timeout_ms)


def wait_kernel_idle(page, server: LabServer, name: str, attempts: int = 2, timeout_ms: int = 60_000) -> None:
    """Wait until the status bar reads "Idle" (a kernel exists and waits); reload the page once if not.

    The notebook toolbar's indicator looks idle before any kernel exists, so the status bar is the one
    to trust.
    """
    status = page.locator("#jp-main-statusbar")
    for attempt in range(attempts):
        try:
            status.filter(has_text="Idle").wait_for(state="visible", timeout=timeout_ms)
            return
        except Exception:
            if attempt == attempts - 1:
                text = status.inner_text(timeout=5_000) if status.count() else "(no status bar)"
                raise TimeoutError(
                    f"kernel never became idle; status bar: {text!r}\n{server.log_tail()}"
                ) from None
            open_notebook(page, server, name)


def run_all(page, timeout_ms: int = 30_000) -> None:
    """Run > Run All Cells through the menu (the command has no default shortcut)."""
    page.locator(".lm-MenuBar-item", has_text="Run").first.click(timeout=timeout_ms)
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click(timeout=timeout_ms)
