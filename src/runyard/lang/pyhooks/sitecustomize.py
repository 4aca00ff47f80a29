"""Loaded by every Python run (runyard puts this directory first on PYTHONPATH).

The run's stdout is a pipe, so Python buffers it: printing stays as fast as it is
without runyard. To keep the output live anyway, a daemon thread flushes stdout
and stderr every ``RUNYARD_FLUSH_SECONDS`` (default 0.2), and writes to stderr
flush stdout first so the two keep their order (``runyard_streams``). Any other
``sitecustomize`` module on the path still runs afterwards.
"""

import os
import sys
import threading


def _flush_forever(interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
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
    if interval <= 0:
        return
    import atexit

    stop = threading.Event()
    thread = threading.Thread(target=_flush_forever, args=(interval, stop), name="runyard-flush", daemon=True)
    thread.start()

    def _stop() -> None:
        # Before the interpreter finalizes: a daemon thread caught inside stdout's flush at
        # shutdown makes Python abort ("could not acquire lock ... at interpreter shutdown").
        stop.set()
        thread.join(5)

    atexit.register(_stop)  # registered first, so it runs after the script's own atexit handlers


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
    try:
        import runyard_streams

        runyard_streams.install()
    except ImportError:
        pass
    _chain()
