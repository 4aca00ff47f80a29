"""The floors for the capture rows: the least any Python supervisor must do.

    python benchmarks/floor_supervisor.py MODE OUTDIR -- COMMAND...

Runs COMMAND with its stdout and stderr on pipes and, as ``runyard run`` does for the output:

- ``tee``: copies what the pipes hold, in 1 MiB reads, to this process's stdout/stderr and to
  OUTDIR/output, and writes a 9-byte index entry per line to OUTDIR/output.index;
- ``convert``: the same, and turns every printed number into a Python number: each chunk's
  complete lines split at white space by one ``bytes.split()``, and the second word of each
  ``KEY: NUMBER`` line converted by one ``map(float, ...)``. No Python code runs per line, and
  no event is written.

A supervisor that records scalars from printed numbers cannot do less than ``convert`` in
CPython: every value must become a number once. runyard also writes each value as a TensorBoard
record (framing and a CRC-32C per record) and follows Guild's rules for which lines hold scalars.
``benchmarks/run.py`` (the "print" rows) reports runyard's supervisor next to these floors.
"""

from __future__ import annotations

import os
import selectors
import struct
import subprocess
import sys
import time


def main() -> int:
    mode, outdir = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    os.makedirs(outdir, exist_ok=True)
    out = open(os.path.join(outdir, "output"), "wb")
    index = open(os.path.join(outdir, "output.index"), "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    console = {proc.stdout.fileno(): sys.stdout.buffer, proc.stderr.fileno(): sys.stderr.buffer}
    carry = {fd: b"" for fd in console}
    for fd in console:
        sel.register(fd, selectors.EVENT_READ)
    converted = 0
    open_fds = len(console)
    while open_fds:
        for key, _ in sel.select():
            data = os.read(key.fd, 1 << 20)
            if not data:
                sel.unregister(key.fd)
                open_fds -= 1
                continue
            console[key.fd].write(data)
            console[key.fd].flush()
            out.write(data)
            stream = 0 if key.fd == proc.stdout.fileno() else 1
            index.write(struct.pack(">QB", int(time.time() * 1000), stream) * data.count(b"\n"))
            if mode != "convert":
                continue
            text = carry[key.fd] + data
            cut = text.rfind(b"\n") + 1
            carry[key.fd] = text[cut:]
            words = text[:cut].split()
            converted += len(list(map(float, words[1::2])))  # the second word of each line
    proc.wait()
    for f in (out, index):
        f.close()
    if mode == "convert":
        with open(os.path.join(outdir, "converted"), "w") as f:
            f.write(str(converted))
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
