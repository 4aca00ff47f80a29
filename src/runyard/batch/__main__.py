"""``python -m runyard.batch BATCH_DIR``: drive a batch in the background (``wait=False``)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from .runner import resume

    if len(argv) != 1:
        sys.stderr.write("usage: python -m runyard.batch BATCH_RUN_DIR\n")
        return 2
    try:
        resume(argv[0])
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
