"""Loaded by every Python run (runyard puts this directory first on PYTHONPATH).

The run's stdout is a pipe, so Python buffers it: printing stays as fast as it is
without runyard. To keep the output live anyway, a daemon thread flushes stdout
and stderr every ``RUNYARD_FLUSH_SECONDS`` (default 0.2). Any other
``sitecustomize`` module on the path still runs afterwards.
"""

import os
import sys
import threading
import time


def _flush_forever(interval: float) -> None:
    while True:
        time.sleep(interval)
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except Exception:  # noqa: BLE001 - a closed or replaced stream: keep going
                pass


def _start() -> None:
    try:
        interval = float(os.environ.get("RUNYARD_FLUSH_SECONDS", "0.2"))
    except ValueError:
        interval = 0.2
    if interval > 0:
        threading.Thread(target=_flush_forever, args=(interval,), name="runyard-flush", daemon=True).start()


def _chain() -> None:
    """Run the sitecustomize this one shadows, if there is one."""
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == here:
            continue
        candidate = os.path.join(entry, "sitecustomize.py")
        if os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_runyard_chained_sitecustomize", candidate)
            if spec and spec.loader:
                module = importlib.util.module_from_spec(spec)
                try:
                    spec.loader.exec_module(module)
                except Exception:  # noqa: BLE001 - not ours to break the run over
                    pass
            return


_start()
if not globals().get("_start_only"):
    _chain()
