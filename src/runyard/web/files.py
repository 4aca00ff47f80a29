"""The directory listing of the run page's file browser."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError
from ..store.paths import PathRefused, resolve_in_run, safe_relpath


def list_dir(run_dir: Path, rel: str = "") -> list[dict]:
    """Entries of a directory inside a run: ``[{name, path, dir, size, mtime, outside}]``, dirs first."""
    target = resolve_in_run(run_dir, rel)
    if not target.is_dir():
        raise PathRefused("not a directory")
    rel = safe_relpath(rel)
    out = []
    try:
        entries = list(os.scandir(target))
    except OSError as e:
        raise UsageError(f"cannot list {rel or 'the run directory'}: {e.strerror}") from None
    for e in entries:
        path = f"{rel}/{e.name}" if rel else e.name
        item = {"name": e.name, "path": path, "dir": False, "size": None, "mtime": None, "outside": False,
                "link": e.is_symlink()}
        try:
            real = resolve_in_run(run_dir, path)
            st = real.stat()
            item["dir"] = real.is_dir()
            item["size"] = None if item["dir"] else st.st_size
            item["mtime"] = int(st.st_mtime * 1000)
        except PathRefused:
            item["outside"] = True
        except OSError:
            item["outside"] = True  # a dangling link
        out.append(item)
    out.sort(key=lambda i: (not i["dir"], i["name"].lower()))
    return out
