"""runyard's own processes import runyard's dependencies, never a project's look-alikes.

A project folder may hold ``yaml.py`` or ``click/``. ``python -m runyard...`` puts the
working directory first on ``sys.path``, and ``PYTHONPATH`` may name the project; either
would make runyard import the project's module instead of PyYAML or click. In runyard's own
processes (the ``runyard`` command, ``python -m runyard.*``: background supervisors, batch
drivers and workers) those entries move behind the interpreter's own ones (stdlib,
site-packages), so they still add modules but never shadow one. Only the script's process
gets the project first on its path (see ``launch/forked.py`` for runs started as a fork).
"""

from __future__ import annotations

import os
import sys


def is_own_process(argv: list[str] | None = None) -> bool:
    """True when this interpreter was started as the ``runyard`` command or ``python -m runyard...``."""
    argv = list(getattr(sys, "orig_argv", []) if argv is None else argv)
    for i, a in enumerate(argv[1:], 1):
        if a == "-m":
            return i + 1 < len(argv) and (argv[i + 1] == "runyard" or argv[i + 1].startswith("runyard."))
        if a.startswith("-m"):
            return a[2:] == "runyard" or a[2:].startswith("runyard.")
        if not a.startswith("-"):
            return os.path.basename(a) == "runyard"
    return False


def user_entries() -> list[str]:
    """The ``sys.path`` entries that came from the working directory or ``PYTHONPATH``."""
    given = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    cwd = os.getcwd() if _cwd_ok() else None
    out = []
    for p in sys.path:
        full = os.path.abspath(p) if p else cwd
        if full is not None and (p == "" or full in given or full == cwd):
            out.append(p)
    return out


def _cwd_ok() -> bool:
    try:
        os.getcwd()
        return True
    except OSError:
        return False


def isolate() -> None:
    """In runyard's own process, move the working directory and ``PYTHONPATH`` entries of
    ``sys.path`` after the interpreter's own entries (a no-op in anyone else's process)."""
    if not is_own_process():
        return
    moved = user_entries()
    if not moved:
        return
    global _original
    _original = list(sys.path)
    keep = [p for p in sys.path if p not in moved]
    sys.path[:] = keep + [p for p in moved if p != ""]
    sys.path_importer_cache.clear()


_original: list[str] | None = None


def interpreter_path() -> list[str]:
    """The ``sys.path`` entries a new ``python script.py`` would share with this process: the
    stdlib and site-packages, without this process's script directory and ``PYTHONPATH``."""
    path = list(_original if _original is not None else sys.path)[1:]
    given = {os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    return [p for p in path if p and os.path.abspath(p) not in given]


def shadowed(dirs: list[str]) -> list[str]:
    """Names of modules loaded in this process that a file or package in ``dirs`` would
    shadow for a script whose path starts with ``dirs``."""
    loaded = {name.partition(".")[0] for name in sys.modules}
    found = []
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            path = os.path.join(d, n)
            if os.path.isdir(path):  # a package (a namespace dir never shadows one)
                if n in loaded and os.path.exists(os.path.join(path, "__init__.py")) and not _same(n, path):
                    found.append(n)
            elif n.endswith((".py", ".pyc", ".so", ".pyd")) and n.partition(".")[0] in loaded \
                    and not _same(n.partition(".")[0], path):
                found.append(n.partition(".")[0])
    return sorted(set(found))


def _same(name: str, path: str) -> bool:
    """True when the loaded module ``name`` is ``path`` itself (e.g. runyard's own source on
    PYTHONPATH), or can't be shadowed from ``sys.path`` (built-in and frozen modules)."""
    mod = sys.modules.get(name)
    origin = getattr(getattr(mod, "__spec__", None), "origin", None) or getattr(mod, "__file__", None)
    if not origin or origin in ("built-in", "frozen"):
        return True
    here = os.path.realpath(path)
    there = os.path.realpath(origin)
    return there == here or there.startswith(here + os.sep)
