"""Export runs to a directory or a ``.zip``, and import them back — every file kept.

An archive entry that would land outside the destination (``..``, an absolute path,
a link) is refused before anything is written.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterable

from ..errors import UsageError


def is_zip(location: str | os.PathLike) -> bool:
    return str(location).lower().endswith(".zip")


def export_runs(run_dirs: Iterable[Path], location: Path, move: bool = False) -> list[str]:
    """Copy (or move) runs into ``location`` (a directory or a .zip); returns the ids written.

    Runs already present in the destination are skipped.
    """
    run_dirs = list(run_dirs)
    written = []
    if is_zip(location):
        location.parent.mkdir(parents=True, exist_ok=True)
        mode = "a" if location.exists() else "w"
        with zipfile.ZipFile(location, mode, compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            present = {n.split("/", 1)[0] for n in zf.namelist()}
            for rd in run_dirs:
                if rd.name in present:
                    continue
                for root, dirs, files in os.walk(rd):
                    rootp = Path(root)
                    dirs[:] = [d for d in dirs if not (rootp / d).is_symlink()]
                    rel_root = rootp.relative_to(rd.parent).as_posix()
                    if not files and not dirs:
                        zf.writestr(rel_root + "/", b"")
                    for f in files:
                        p = rootp / f
                        if p.is_symlink():
                            continue
                        zf.write(p, f"{rel_root}/{f}")
                written.append(rd.name)
    else:
        location.mkdir(parents=True, exist_ok=True)
        (location / ".guild-nocopy").touch()
        for rd in run_dirs:
            dst = location / rd.name
            if dst.exists():
                continue
            shutil.copytree(rd, dst, symlinks=True)
            written.append(rd.name)
    if move:
        for rd in run_dirs:
            if rd.name in written:
                shutil.rmtree(rd)
    return written


def _is_run_id(name: str) -> bool:
    return len(name) >= 8 and all(c in "0123456789abcdef-" for c in name.lower())


def archive_run_ids(location: Path) -> list[str]:
    """Ids of the runs held by an export directory or zip."""
    if not location.exists():
        raise UsageError(f"nothing to import: {location} does not exist")
    if is_zip(location):
        with zipfile.ZipFile(location) as zf:
            names = zf.namelist()
        ids = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0]}
        return sorted(i for i in ids if any(n.startswith(f"{i}/.guild/opref") for n in names))
    return sorted(p.name for p in location.iterdir() if (p / ".guild" / "opref").exists())


def _check_zip(zf: zipfile.ZipFile, run_ids: set[str]) -> list[zipfile.ZipInfo]:
    members = []
    for info in zf.infolist():
        name = info.filename
        path = PurePosixPath(name)
        if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":") or ".." in path.parts:
            raise UsageError(f"refusing to import: archive entry '{name}' would land outside the destination")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UsageError(f"refusing to import: archive entry '{name}' is a link")
        if path.parts and path.parts[0] in run_ids:
            members.append(info)
    return members


def _check_dir(src: Path) -> None:
    for root, dirs, files in os.walk(src):
        for n in dirs + files:
            p = Path(root) / n
            if p.is_symlink():
                target = (p.parent / os.readlink(p)).resolve()
                base = src.parent.resolve()
                if not str(target).startswith(str(base) + os.sep):
                    raise UsageError(f"refusing to import: '{p}' is a link that points outside the archive")


def import_runs(location: Path, dest_runs: Path, run_ids: list[str], move: bool = False) -> list[str]:
    """Copy (or move) ``run_ids`` from an archive into ``dest_runs``; returns the ids imported.

    Everything is checked first; runs whose id already exists are skipped.
    """
    dest_runs.mkdir(parents=True, exist_ok=True)
    todo = [i for i in run_ids if not (dest_runs / i).exists()]
    if is_zip(location):
        if move:
            raise UsageError("--move cannot be used when importing from a zip archive")
        with zipfile.ZipFile(location) as zf:
            members = _check_zip(zf, set(todo))
            for info in members:
                target = dest_runs / info.filename
                if not str(target.resolve()).startswith(str(dest_runs.resolve()) + os.sep):
                    raise UsageError(f"refusing to import: archive entry '{info.filename}' escapes the destination")
            for info in members:
                zf.extract(info, dest_runs)
                mode = info.external_attr >> 16
                if mode and not info.is_dir():
                    os.chmod(dest_runs / info.filename, stat.S_IMODE(mode))
        return todo
    for rid in todo:
        _check_dir(location / rid)
    for rid in todo:
        if move:
            shutil.move(str(location / rid), str(dest_runs / rid))
        else:
            shutil.copytree(location / rid, dest_runs / rid, symlinks=True)
    return todo
