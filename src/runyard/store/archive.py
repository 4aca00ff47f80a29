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


def export_runs(run_dirs: Iterable[Path], location: Path, move: bool = False, links: str = "keep") -> list[str]:
    """Copy (or move) runs into ``location`` (a directory or a .zip); returns the ids written.

    Runs already present in the destination are skipped. ``links``: ``keep`` stores links
    (pipeline steps, batch trials, linked dependencies) as links, in zips too; ``copy`` stores
    what they point at as files.
    """
    if links not in ("keep", "copy"):
        raise UsageError(f"links must be keep or copy, not {links!r}")
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
                for root, dirs, files in os.walk(rd, followlinks=links == "copy"):
                    rootp = Path(root)
                    rel_root = (rd.name / rootp.relative_to(rd)).as_posix()
                    if links == "keep":
                        for d in dirs:
                            if (rootp / d).is_symlink():
                                _write_link(zf, rootp / d, f"{rel_root}/{d}")
                        dirs[:] = [d for d in dirs if not (rootp / d).is_symlink()]
                    else:
                        dirs[:] = [d for d in dirs if (rootp / d).exists()]
                    if not files and not dirs:
                        zf.writestr(rel_root + "/", b"")
                    for f in files:
                        p = rootp / f
                        if p.is_symlink() and links == "keep":
                            _write_link(zf, p, f"{rel_root}/{f}")
                            continue
                        if p.exists():
                            zf.write(p, f"{rel_root}/{f}")
                written.append(rd.name)
    else:
        location.mkdir(parents=True, exist_ok=True)
        (location / ".guild-nocopy").touch()
        for rd in run_dirs:
            dst = location / rd.name
            if dst.exists():
                continue
            shutil.copytree(rd, dst, symlinks=links == "keep")
            if links == "keep":
                _copy_outside_links(dst, location)
            written.append(rd.name)
    if move:
        for rd in run_dirs:
            if rd.name in written:
                shutil.rmtree(rd)
    return written


def _copy_outside_links(run_copy: Path, location: Path) -> None:
    """In an exported run, links that point outside the runs (linked project files) become copies."""
    for root, dirs, files in os.walk(run_copy):
        for n in dirs + files:
            p = Path(root) / n
            if p.is_symlink() and not _safe_link(p.relative_to(location).as_posix(), os.readlink(p), set()):
                src = (p.parent / os.readlink(p)).resolve()
                p.unlink()
                if src.is_dir():
                    shutil.copytree(src, p)
                elif src.exists():
                    shutil.copy2(src, p)


def _write_link(zf: zipfile.ZipFile, path: Path, name: str) -> None:
    """A link as a zip entry (Unix mode S_IFLNK, the target as its content), as Info-ZIP stores it.
    A link that points outside the runs (a linked project file) is stored as what it points at."""
    target = os.readlink(path)
    if not _safe_link(name, target, set()):
        if path.is_file():
            zf.write(path, name)
        elif path.is_dir():
            for root, _dirs, files in os.walk(path, followlinks=True):
                for f in files:
                    p = Path(root) / f
                    zf.write(p, f"{name}/{p.relative_to(path).as_posix()}")
        return
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    zf.writestr(info, target)


def _safe_link(name: str, target: str, run_ids: set[str]) -> bool:
    """A link kept in an archive may point only inside its own run or at another run (``../<id>``)."""
    if target.startswith("/") or "\\" in target:
        return False
    parts = PurePosixPath(PurePosixPath(name).parent, target).parts
    depth = []
    for part in parts:
        if part == "..":
            if not depth:
                return False
            depth.pop()
        elif part != ".":
            depth.append(part)
    return bool(depth) and (depth[0] in run_ids or _is_run_id(depth[0]))


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
            if not _safe_link(name, zf.read(info).decode("utf-8", "replace"), run_ids):
                raise UsageError(f"refusing to import: archive entry '{name}' is a link that points outside "
                                 "its runs")
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
                if stat.S_ISLNK(info.external_attr >> 16):  # a step / trial link, checked above
                    target = dest_runs / info.filename
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(zf.read(info).decode("utf-8"), target)
                    continue
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
