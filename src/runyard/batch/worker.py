"""``python -m runyard.batch.worker``: a local batch worker.

Reads claimed run directories from stdin, one per line; supervises each run in its main
thread (so SIGINT / SIGTERM sent to the worker stop the run as ``terminated``); writes the
run's exit status to stdout, one line per run. Started by :class:`~runyard.batch.executors.LocalPool`
in a session of its own, once per worker, so a trial costs no interpreter start-up.
"""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    from ..launch import batchrun

    out = sys.stdout
    try:
        for line in sys.stdin:
            run_dir = line.strip()
            if not run_dir:
                continue
            try:
                status = batchrun.start_claimed(run_dir, echo=False, stdin=subprocess.DEVNULL)
            except KeyboardInterrupt:
                batchrun.mark_stopped(run_dir, -16)
                status = -16
            except Exception as e:  # noqa: BLE001 - report and go on with the next trial
                sys.stderr.write(f"runyard worker: {run_dir}: {e}\n")
                batchrun.mark_stopped(run_dir, 1)
                status = 1
            out.write(f"{status}\n")
            out.flush()
    except (KeyboardInterrupt, BrokenPipeError):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
