"""Output ordering for a run's Python process (stdout is buffered for speed).

A run's stdout is a pipe, so Python buffers it; stderr is line-buffered. Without care a
warning on stderr would reach the run's output before the stdout lines printed ahead of
it. ``install()`` makes every write to ``sys.stderr`` flush ``sys.stdout`` first, so the
two streams keep their order while printing to stdout alone stays fast.
"""

import sys


class OrderedStderr:
    """``sys.stderr`` that flushes ``sys.stdout`` before each write; everything else delegated."""

    def __init__(self, inner):
        object.__setattr__(self, "_inner", inner)

    def write(self, s):
        out = sys.stdout
        if out is not None and out is not self:
            try:
                out.flush()
            except (OSError, ValueError, AttributeError):
                pass
        return self._inner.write(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __setattr__(self, name, value):
        setattr(self._inner, name, value)


def install() -> None:
    if sys.stderr is not None and not isinstance(sys.stderr, OrderedStderr):
        sys.stderr = OrderedStderr(sys.stderr)
