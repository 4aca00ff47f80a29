"""The optional "TensorBoard" button: start TensorBoard on the selected runs (if installed)."""

from __future__ import annotations

import importlib.util
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..errors import UsageError


def available() -> bool:
    """True if the ``tensorboard`` package can be imported."""
    try:
        return importlib.util.find_spec("tensorboard") is not None
    except (ImportError, ValueError):
        return False


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class TensorBoard:
    """At most one TensorBoard process per view server, restarted for each new selection."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self._lock = threading.Lock()

    def start(self, runs: list[tuple[str, Path, str]], timeout: float = 60.0) -> str:
        """Start TensorBoard on ``runs`` (``(id, dir, operation)``); returns its URL when it answers."""
        if not available():
            raise UsageError("TensorBoard is not installed (pip install tensorboard)")
        if not runs:
            raise UsageError("select runs to show in TensorBoard")
        spec = ",".join(f"{rid[:8]}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', op)[:40]}:{d}" for rid, d, op in runs)
        with self._lock:
            self.stop()
            port = _free_port(self.host)
            cmd = [sys.executable, "-m", "tensorboard.main", "--logdir_spec", spec, "--host", self.host,
                   "--port", str(port), "--reload_interval", "5"]
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    raise UsageError(f"TensorBoard exited at start (status {self.proc.returncode})")
                try:
                    with socket.create_connection((self.host, port), timeout=0.5):
                        break
                except OSError:
                    time.sleep(0.2)
            else:
                self.stop()
                raise UsageError("TensorBoard did not start in time")
            self.url = f"http://{self.host}:{port}/"
            return self.url

    def stop(self) -> None:
        """Stop the TensorBoard process, if any."""
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.url = ""
