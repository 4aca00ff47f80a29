"""Export runs to a directory or a ``.zip``, and import them back — every file kept, every write atomic.

Export builds each run (directory export) or the whole archive (zip export, appending included)
under a temporary name beside the destination and renames it into place, so a crash leaves the
old state or the new one. Import treats every archive and directory as hostile. Before anything
is written it refuses:

- a run whose id is not exactly 32 lowercase hex digits (names starting with ``.`` are ignored);
- an entry that would land outside the destination (``..``, an absolute path), anything but a
  regular file, directory or link, and a link that breaks the rule for links in runs
  (``paths.link_refused``, judged on the extracted files: inside its run, or to another run of
  the archive such as ``../<id>`` of a pipeline step or batch trial, never through another link);
- runs larger than the free space of the runs home; an entry (or a whole zip) that expands more
  than 1000:1 to over 10 MB, unless ``force`` is given;
- a damaged or truncated zip (one line; nothing is written).

Each run is built in ``<home>/tmp/`` and renamed into ``<home>/runs/`` whole, only after every run
of the import was extracted, with plain permissions (no setuid, setgid, sticky or world-writable
bits). A run killed half-way leaves nothing under ``runs/``; importing again completes the import.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

from ..errors import UsageError
from .paths import MAX_LINK, link_refused, read_run_file, stays_on_machine

RUN_ID = re.compile(r"[0-9a-f]{32}\Z")
#: A zip entry (or a whole zip) expanding more than this ratio to more than MAX_RATIO_SIZE is a bomb.
MAX_RATIO = 1000
MAX_RATIO_SIZE = 10 * 1024 * 1024
#: Permission bits an imported file may keep: no setuid/setgid/sticky, not world-writable.
PLAIN_BITS = 0o775
_CHUNK = 1 << 20
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError)


class ArchiveError(UsageError):
    """An archive or export directory that is refused or cannot be read (nothing was written)."""


def is_zip(location: str | os.PathLike) -> bool:
    return str(location).lower().endswith(".zip")


# --- temporary names: <prefix><pid>-<random>; a dead process's leftovers are removed --------------

def _tmp_path(parent: Path, prefix: str, suffix: str = "") -> Path:
    return parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def remove_stale(parent: Path, prefix: str) -> None:
    """Remove ``parent/<prefix><pid>-*`` left by processes that no longer exist (a SIGKILL)."""
    import psutil

    try:
        names = [n for n in os.listdir(parent) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            _rm(parent / name)


def _rm(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _fmt_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _shown(name: str) -> str:
    """A name from an archive as it is safe to print: quoted, control characters escaped."""
    return repr(name[:80])


# --- export ----------------------------------------------------------------------------------------

def _run_entries(run_dir: Path, links: str = "keep") -> Iterator[tuple[str, Path, str]]:
    """``(relpath, path, kind)`` of everything exported from a run; kind is dir, file or link.

    The one place that decides which of a run's files an export carries. A link that keeps the
    rule for links in runs (``paths.link_refused``: inside the run, or to another run such as a
    pipeline step or batch trial, never through another link) stays a link with
    ``links="keep"`` and is followed with ``links="copy"`` (its files under the link's name,
    each link inside judged by the same rule). Any other link is left out — except a dependency
    the run linked in itself (a ``d`` line of its manifest: a linked project file), carried as
    the file it points at. So an export never reads outside the runs folder on a link's say."""
    yield from _entries(run_dir, "", run_dir, "", links, 0, {os.path.realpath(run_dir)})


def _entries(d: Path, prefix: str, run_dir: Path, base: str, links: str, depth: int,
             seen: set[str]) -> Iterator[tuple[str, Path, str]]:
    """Entries of folder ``d`` (``base`` inside run ``run_dir``), named ``prefix + name``."""
    try:
        found = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError:
        return
    for e in found:
        p, rel, in_run = Path(e.path), prefix + e.name, base + e.name
        if stays_on_machine(in_run):  # Guild's staged-run environment (secrets and all), runyard's lock
            continue
        if e.is_symlink():
            if link_refused(run_dir, in_run) is None:
                if links == "keep" and depth == 0:
                    yield rel, p, "link"
                    continue
                real = os.path.realpath(p)
                if os.path.isdir(real) and depth < 40 and real not in seen:  # followed: files under the link's name
                    yield rel, p, "dir"
                    other = Path(os.path.realpath(run_dir.parent)) / Path(os.path.relpath(real, os.path.realpath(
                        run_dir.parent))).parts[0]
                    sub = os.path.relpath(real, other)
                    yield from _entries(p, rel + "/", other, "" if sub == "." else sub + "/", "copy", depth + 1,
                                        seen | {real})
                elif os.path.isfile(real):
                    yield rel, p, "file"
            elif in_run in _dependency_links(run_dir):  # a linked project file or folder: as its files
                if os.path.isfile(p):
                    yield rel, p, "file"
                elif os.path.isdir(p):
                    yield rel, p, "dir"
                    yield from _plain_entries(p, rel + "/", 0)
        elif e.is_dir(follow_symlinks=False):
            yield rel, p, "dir"
            yield from _entries(p, rel + "/", run_dir, in_run + "/", links, depth, seen)
        elif e.is_file(follow_symlinks=False):  # not a FIFO, socket or device (reading one could block forever)
            yield rel, p, "file"


def _plain_entries(d: Path, prefix: str, depth: int) -> Iterator[tuple[str, Path, str]]:
    """The folders and regular files under ``d`` (a project folder a run linked in as a
    dependency), named ``prefix + ...``; no link in it is followed, nothing deeper than 40."""
    try:
        found = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError:
        return
    for e in found:
        if e.is_dir(follow_symlinks=False) and depth < 40:
            yield prefix + e.name, Path(e.path), "dir"
            yield from _plain_entries(Path(e.path), prefix + e.name + "/", depth + 1)
        elif e.is_file(follow_symlinks=False):
            yield prefix + e.name, Path(e.path), "file"


def _dependency_links(run_dir: Path) -> set[str]:
    """Run-relative paths the run's manifest names as dependencies (``d`` lines)."""
    import shlex

    try:
        text, _ = read_run_file(run_dir, ".guild/manifest", 64 * 1024 * 1024)
    except (OSError, UsageError):
        return set()
    out = set()
    for line in text.decode("utf-8", "replace").splitlines():
        if line.startswith("d "):
            try:
                parts = shlex.split(line)
            except ValueError:
                continue
            if len(parts) >= 2:
                out.add(parts[1])
    return out


def export_runs(run_dirs: Iterable[Path], location: Path, move: bool = False, links: str = "keep") -> list[str]:
    """Copy (or move) runs into ``location`` (a directory or a .zip); returns the ids written.

    Runs already present in the destination are skipped. Nothing already in the destination is
    changed until the new state is complete. ``links``: ``keep`` keeps links between runs
    (pipeline steps, batch trials) as links, in zips too; ``copy`` stores what they point at.
    """
    if links not in ("keep", "copy"):
        raise UsageError(f"links must be 'keep' or 'copy', not {links!r}")
    run_dirs = list(run_dirs)
    written = (_export_zip(run_dirs, location, links) if is_zip(location)
               else _export_dir(run_dirs, location, links))
    if move:
        by_id = {rd.name: rd for rd in run_dirs}
        for rid in written:
            _remove_run(by_id[rid])
    return written


def _export_zip(run_dirs: list[Path], location: Path, links: str = "keep") -> list[str]:
    location.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{location.name}.tmp-"
    remove_stale(location.parent, prefix)
    present: set[str] = set()
    if location.exists():
        try:
            with zipfile.ZipFile(location) as zf:
                present = {n.split("/", 1)[0] for n in zf.namelist()}
        except _ZIP_ERRORS as e:
            raise ArchiveError(f"cannot add runs to {location}: it is not a readable zip archive ({e})") from None
    todo = [rd for rd in run_dirs if rd.name not in present]
    if not todo:
        return []
    tmp = _tmp_path(location.parent, prefix)
    try:
        if location.exists():
            shutil.copyfile(location, tmp)  # append to a copy: the original stays whole until replaced
            shutil.copymode(location, tmp)
        with zipfile.ZipFile(tmp, "a" if location.exists() else "w", compression=zipfile.ZIP_DEFLATED,
                             allowZip64=True) as zf:
            for rd in todo:
                _zip_run(zf, rd, links)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, location)
    except BaseException:
        _rm(tmp)
        raise
    return [rd.name for rd in todo]


def _zip_run(zf: zipfile.ZipFile, rd: Path, links: str = "keep") -> None:
    zf.writestr(rd.name + "/", b"")
    for rel, path, kind in _run_entries(rd, links):
        name = f"{rd.name}/{rel}"
        if kind == "dir":
            zf.writestr(name + "/", b"")
        elif kind == "file":
            public = public_bytes(rel, path)
            if public is None:
                zf.write(path, name)
            else:
                zf.writestr(zipfile.ZipInfo.from_file(path, name), public)
        else:  # a link between runs: a Unix symlink entry (mode S_IFLNK, the target as its data)
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, os.readlink(path))


def exported_env_attr(path: str | os.PathLike) -> bytes | None:
    """What an export or the view carries for a run's ``env`` attribute file at ``path``: None
    (the file as it is) unless it holds a secret — as a run made by Guild AI can (Guild keeps
    ``KAGGLE_KEY``, ``DATABASE_URL=...:pw@...``) — then the attribute without them."""
    from ..environ import storable
    from . import attrs

    try:
        env = attrs.read(Path(path))
    except Exception:  # noqa: BLE001 - unreadable: carried as it is, listed with its error
        return None
    if not isinstance(env, dict):
        return None
    keep = [k for k in env if isinstance(k, str) and k.startswith(("FLAG_", "RUN_"))]
    clean = storable({str(k): str(v) for k, v in env.items()}, keep=keep)
    if len(clean) == len(env):
        return None
    return attrs.dumps(clean).encode("utf-8")


def public_bytes(rel: str, path: Path) -> bytes | None:
    """What export and push carry of a run's file ``rel``: None for the file as it is; for an
    ``env`` attribute holding a secret (a run made by Guild AI), the attribute without it. The
    one place for this rule (export zip and directory, push)."""
    if rel != ".guild/attrs/env":
        return None
    return exported_env_attr(path)


def _export_dir(run_dirs: list[Path], location: Path, links: str = "keep") -> list[str]:
    location.mkdir(parents=True, exist_ok=True)
    (location / ".guild-nocopy").touch()
    prefix = ".runyard-export-"
    remove_stale(location, prefix)
    written = []
    for rd in run_dirs:
        dst = location / rd.name
        if dst.exists():
            continue
        tmp = _tmp_path(location, prefix)
        try:
            tmp.mkdir()
            for rel, path, kind in _run_entries(rd, links):
                if kind == "dir":
                    (tmp / rel).mkdir()
                elif kind == "file":
                    shutil.copy2(path, tmp / rel)
                    public = public_bytes(rel, path)
                    if public is not None:
                        (tmp / rel).write_bytes(public)
                        shutil.copystat(path, tmp / rel)
                else:
                    os.symlink(os.readlink(path), tmp / rel)
            shutil.copystat(rd, tmp)
        except BaseException:
            _rm(tmp)
            raise
        try:
            os.rename(tmp, dst)
        except OSError:
            _rm(tmp)
            if dst.exists():
                continue  # another export wrote this run meanwhile
            raise
        written.append(rd.name)
    return written


def _remove_run(run_dir: Path) -> None:
    """Remove a run from its home after a move: renamed out of ``runs/`` first (atomic), then deleted."""
    tmp_root = run_dir.parent.parent / "tmp"
    tmp_root.mkdir(exist_ok=True)
    gone = _tmp_path(tmp_root, "moved-")
    os.rename(run_dir, gone)
    shutil.rmtree(gone, ignore_errors=True)
    try:
        tmp_root.rmdir()
    except OSError:
        pass


# --- import ----------------------------------------------------------------------------------------

def archive_run_ids(location: Path) -> list[str]:
    """Ids of the runs held by an export directory or zip.

    Raises ArchiveError for an unreadable zip, or if a run's id is not 32 lowercase hex digits.
    """
    if not location.exists():
        raise UsageError(f"nothing to import: {location} does not exist")
    if is_zip(location):
        names = set(_zip_call(location, lambda zf: zf.namelist()))
        runs = {n.split("/", 1)[0] for n in names if n.split("/", 1)[-1] == ".guild/opref"}
    elif location.is_dir():
        runs = {p.name for p in location.iterdir() if os.path.lexists(p / ".guild" / "opref")}
    else:
        raise ArchiveError(f"cannot import {location}: not a directory or a .zip archive")
    runs = {r for r in runs if not r.startswith(".")}
    bad = sorted(r for r in runs if not RUN_ID.match(r))
    if bad:
        raise ArchiveError(f"refusing to import: {len(bad)} run(s) whose id is not 32 lowercase hex digits, "
                           f"such as {_shown(bad[0])}")
    return sorted(runs)


def _zip_call(location: Path, fn):
    try:
        with zipfile.ZipFile(location) as zf:
            return fn(zf)
    except _ZIP_ERRORS as e:
        raise ArchiveError(f"cannot import {location.name}: the zip archive is damaged or truncated ({e})") from None


def import_runs(location: Path, dest_runs: Path, run_ids: list[str], move: bool = False,
                force: bool = False) -> list[str]:
    """Copy (or move) ``run_ids`` from an archive into ``dest_runs``; returns the ids imported.

    Everything is checked first; runs whose id already exists are skipped. ``force`` accepts
    entries that expand more than 1000:1 (a possible zip bomb) — never entries that escape.
    """
    bad = [i for i in run_ids if not RUN_ID.match(i)]
    if bad:
        raise ArchiveError(f"refusing to import: {_shown(bad[0])} is not a run id (32 lowercase hex digits)")
    if move and is_zip(location):
        raise UsageError("--move cannot be used when importing from a zip archive")
    dest_runs.mkdir(parents=True, exist_ok=True)
    todo = [i for i in run_ids if not os.path.lexists(dest_runs / i)]
    if not todo:
        return []
    tmp_root = dest_runs.parent / "tmp"
    tmp_root.mkdir(exist_ok=True)
    remove_stale(tmp_root, "import-")
    staging = _tmp_path(tmp_root, "import-")
    staging.mkdir()
    try:
        if is_zip(location):
            _zip_call(location, lambda zf: _extract_zip(zf, staging, todo, force))
        else:
            _copy_dirs(location, staging, todo)
        done = []
        for rid in todo:  # every run is complete: publish each one whole
            if os.path.lexists(dest_runs / rid):
                continue  # imported meanwhile by another process
            try:
                os.rename(staging / rid, dest_runs / rid)
            except OSError:
                if os.path.lexists(dest_runs / rid):
                    continue
                raise
            done.append(rid)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        try:
            tmp_root.rmdir()  # only if empty: another import may be using it
        except OSError:
            pass
    if move:
        for rid in done:
            shutil.rmtree(location / rid)
    return done


def _plain_mode(mode: int, default: int = 0o644) -> int:
    bits = stat.S_IMODE(mode)
    return (bits & PLAIN_BITS) if bits else default


def _check_zip(zf: zipfile.ZipFile, run_ids: set[str]) -> list[zipfile.ZipInfo]:
    members = []
    for info in zf.infolist():
        name = info.filename
        path = PurePosixPath(name)
        if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":") or ".." in path.parts:
            raise ArchiveError(f"refusing to import: archive entry {_shown(name)} would land outside the destination")
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK and not 0 < info.file_size <= MAX_LINK:
            raise ArchiveError(f"refusing to import: archive entry {_shown(name)} is a link that points "
                               "outside the archive's runs")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
            raise ArchiveError(f"refusing to import: archive entry {_shown(name)} is not a regular file")
        if path.parts and path.parts[0] in run_ids:
            members.append(info)
    return members


def check_space(total: int, dest: Path, what: str = "import") -> None:
    """Refuse (ArchiveError) to write ``total`` bytes where less is free."""
    free = shutil.disk_usage(dest).free
    if total > free:
        raise ArchiveError(f"refusing to {what}: the runs need {_fmt_size(total)} but only {_fmt_size(free)} "
                           f"is free in {dest.parent}")


def check_ratio(name: str, size: int, packed: int, force: bool = False,
                hint: str = "; use --force if you trust it") -> None:
    """Refuse (ArchiveError) ``name`` if it expands more than MAX_RATIO:1 to over MAX_RATIO_SIZE."""
    if not force and size > MAX_RATIO_SIZE and size > MAX_RATIO * max(packed, 1):
        raise ArchiveError(f"refusing to import: {name} expands {size // max(packed, 1)}:1 to {_fmt_size(size)} "
                           f"(a zip bomb?){hint}")


def extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, size: int | None = None) -> None:
    """Write zip member ``info`` to the new file ``target``: at most its header's size (or
    ``size``) is read, and a member longer than that is refused (BadZipFile)."""
    limit = info.file_size if size is None else size
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with zf.open(info) as src, os.fdopen(fd, "wb") as dst:
        n = 0
        while chunk := src.read(_CHUNK):
            n += len(chunk)
            if n > limit:
                raise zipfile.BadZipFile(f"entry {_shown(info.filename)} is longer than its header says")
            dst.write(chunk)


def check_links(staging: Path, links: list[str], runs: set[str], what: str) -> None:
    """Refuse (ArchiveError) unless every link made in ``staging`` (``<run id>/<path>``) keeps the
    rule for links in runs (``paths.link_refused``); judged with all of them in place."""
    for name in links:
        rid, rel = name.split("/", 1)
        why = link_refused(staging / rid, rel, runs)
        if why:
            raise ArchiveError(f"refusing to import: {what}{_shown(name)} is a link that {why}")


def _extract_zip(zf: zipfile.ZipFile, staging: Path, todo: list[str], force: bool) -> None:
    members = _check_zip(zf, set(todo))
    total = sum(i.file_size for i in members)
    check_space(total, staging)
    for info in members:
        check_ratio(f"archive entry {_shown(info.filename)}", info.file_size, info.compress_size, force)
    check_ratio("the archive", total, sum(i.compress_size for i in members), force)
    links = []
    for info in sorted(members, key=lambda i: stat.S_IFMT(i.external_attr >> 16) == stat.S_IFLNK):
        target = staging / info.filename
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_IFMT(info.external_attr >> 16) == stat.S_IFLNK:  # made last: nothing is written through one
                os.symlink(zf.read(info).decode("utf-8"), target)
                links.append(info.filename.rstrip("/"))
                continue
            extract_member(zf, info, target)
            os.chmod(target, _plain_mode(info.external_attr >> 16))
        except (OSError, ValueError) as e:  # (a link target with a NUL, not UTF-8)
            raise ArchiveError(f"cannot import archive entry {_shown(info.filename)}: "
                               f"{getattr(e, 'strerror', None) or e}") from None
    runs = {n.split("/", 1)[0] for n in zf.namelist() if n.split("/", 1)[-1] == ".guild/opref"}
    check_links(staging, links, runs, "archive entry ")


def _copy_dirs(location: Path, staging: Path, todo: list[str]) -> None:
    """Check every run directory in full, then copy them into ``staging`` with plain permissions."""
    plan: list[tuple[str, str, str]] = []  # (relpath under location, kind, link target)
    total = 0
    for rid in todo:
        src = location / rid
        if src.is_symlink() or not src.is_dir():
            raise ArchiveError(f"refusing to import: {_shown(rid)} is not a directory")
        plan.append((rid, "dir", ""))
        for dirpath, dirs, files in os.walk(src):
            for name in dirs + files:
                p = os.path.join(dirpath, name)
                rel = os.path.relpath(p, location)
                st = os.lstat(p)
                if stat.S_ISLNK(st.st_mode):
                    target = os.readlink(p)
                    if not target or target.startswith("/") or len(target) > MAX_LINK:
                        raise ArchiveError(f"refusing to import: {_shown(rel)} is a link that points outside the archive")
                    plan.append((rel, "link", target))
                elif stat.S_ISDIR(st.st_mode):
                    plan.append((rel, "dir", ""))
                elif stat.S_ISREG(st.st_mode):
                    plan.append((rel, "file", ""))
                    total += st.st_size
                else:
                    raise ArchiveError(f"refusing to import: {_shown(rel)} is not a regular file")
    check_space(total, staging)
    links = []
    for rel, kind, target in sorted(plan, key=lambda x: x[1] == "link"):  # links last: nothing is written through one
        dst = staging / rel
        try:
            if kind == "dir":
                dst.mkdir()
            elif kind == "link":
                os.symlink(target, dst)
                links.append(rel.replace(os.sep, "/"))
            else:
                fd = os.open(location / rel, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(fd, "rb") as src:
                    if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                        raise ArchiveError(f"refusing to import: {_shown(rel)} is not a regular file")
                    with open(dst, "xb") as out:
                        shutil.copyfileobj(src, out)
                shutil.copystat(location / rel, dst, follow_symlinks=False)
                os.chmod(dst, _plain_mode(os.stat(dst).st_mode))
        except OSError as e:
            raise ArchiveError(f"cannot import {_shown(rel)}: {e.strerror or e}") from None
    runs = {p.name for p in location.iterdir() if RUN_ID.match(p.name) and os.path.lexists(p / ".guild" / "opref")}
    check_links(staging, links, runs, "")
