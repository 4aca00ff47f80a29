"""The source snapshot: which project files are copied to the run directory's root.

In a git project: every file git does not ignore. Otherwise: text files of at most
1 MiB, at most 100 of them, skipping hidden directories, virtualenvs,
``__pycache__`` and ``.guild``. Front-matter ``sourcecode:`` rules (``include`` /
``exclude`` glob patterns, last match wins, or ``no``) adjust the selection.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError

MAX_FILE_SIZE = int(os.environ.get("MAX_DEFAULT_SOURCECODE_FILE_SIZE", 1024 * 1024))
MAX_FILES = int(os.environ.get("MAX_DEFAULT_SOURCECODE_COUNT", 100))
_SKIP_DIRS = {"__pycache__", "build", "dist", "node_modules", ".git", ".guild"}


def _is_venv(d: Path) -> bool:
    return (d / "pyvenv.cfg").exists() or (d / "bin" / "activate").exists() or (d / "Scripts" / "activate").exists()


def _is_text(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return False
    return b"\x00" not in head


def git_files(project: Path) -> list[str] | None:
    """Files git does not ignore (tracked and untracked), or None outside a git work tree."""
    if not in_git(project):
        return None
    import subprocess

    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=project, capture_output=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    files = []
    for rel in out.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if not rel or rel.startswith(".guild/") or "/.guild/" in rel:
            continue
        name = rel.rsplit("/", 1)[-1]
        if name.startswith(".git") or name == ".guildignore":
            continue
        if (project / rel).is_file():
            files.append(rel)
    return files


def in_git(project: Path) -> bool:
    """True inside a git work tree (a ``.git`` here or above) — checked without running git."""
    return any((p / ".git").exists() for p in (project, *project.parents))


def vcs_commit(project: Path) -> str | None:
    """``git:<sha>`` (``*`` appended when the work tree is dirty), or None."""
    if not in_git(project):
        return None
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, timeout=30)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=project,
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return f"git:{head.stdout.strip()}" + ("*" if dirty.stdout.strip() else "")


def _walk(project: Path, hidden: bool) -> list[str]:
    out = []
    for root, dirs, files in os.walk(project):
        r = Path(root)
        keep = []
        for d in sorted(dirs):
            p = r / d
            if d in _SKIP_DIRS or d.endswith(".egg-info") or (not hidden and d.startswith(".")):
                continue
            if p.is_symlink() or (p / ".guild-nocopy").exists() or _is_venv(p):
                continue
            keep.append(d)
        dirs[:] = keep
        for f in sorted(files):
            p = r / f
            if p.is_symlink() and not p.exists():
                continue
            out.append(p.relative_to(project).as_posix())
        if len(out) > 20000:
            break
    return out


def _rules(spec: Any) -> list[tuple[str, str]] | None:
    """Normalize a front-matter ``sourcecode`` value to [(include|exclude, pattern)], None = no snapshot."""
    if spec is None:
        return []
    if spec is False or (isinstance(spec, str) and spec.lower() in ("no", "false", "off")):
        return None
    if isinstance(spec, dict):
        spec = spec.get("select", [])
    if isinstance(spec, str):
        spec = [spec]
    rules = []
    for item in spec or []:
        if isinstance(item, str):
            rules.append(("include", item))
        elif isinstance(item, dict):
            for kind in ("include", "exclude"):
                pats = item.get(kind)
                if pats is None:
                    continue
                if isinstance(pats, dict):  # {dir|text|binary: pattern}
                    pats = list(pats.values())
                for pat in pats if isinstance(pats, list) else [pats]:
                    rules.append((kind, str(pat)))
        else:
            raise UsageError(f"invalid sourcecode rule in front matter: {item!r}")
    return rules


def _match(rel: str, pattern: str) -> bool:
    pattern = pattern.rstrip("/")
    if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel.rsplit("/", 1)[-1], pattern):
        return True
    return rel.startswith(pattern + "/") or fnmatch.fnmatch(rel, pattern + "/*")


def select(project: Path, spec: Any = None, always: tuple[str, ...] = ()) -> list[str]:
    """Project-relative POSIX paths of the files to snapshot (``always`` are added)."""
    rules = _rules(spec)
    if rules is None:
        return sorted(set(always))
    git = git_files(project)
    if git is not None:
        chosen = set(git)
        candidates = git
    else:
        candidates = _walk(project, hidden=any(k == "include" for k, _ in rules))
        chosen = set()
        for rel in candidates:
            if rel.split("/", 1)[0].startswith(".") or any(part.startswith(".") for part in rel.split("/")[:-1]):
                continue
            p = project / rel
            try:
                if p.stat().st_size > MAX_FILE_SIZE:
                    continue
            except OSError:
                continue
            if _is_text(p):
                chosen.add(rel)
    for kind, pat in rules:
        for rel in candidates:
            if _match(rel, pat):
                if kind == "include":
                    chosen.add(rel)
                else:
                    chosen.discard(rel)
    selected = sorted(chosen)
    if git is None and len(selected) > MAX_FILES and not rules:
        print(f"runyard: found more than {MAX_FILES} source code files; copying only {MAX_FILES} "
              "(add sourcecode rules to the script's front matter to choose)", file=sys.stderr)
        keep = set(always)
        selected = sorted(keep | set([s for s in selected if s not in keep][: MAX_FILES - len(keep)]))
    return sorted(set(selected) | set(always))


def snapshot(project: Path, run_dir: Path, files: list[str]) -> str:
    """Copy ``files`` into ``run_dir``; write ``.guild/manifest``; return the source digest (MD5)."""
    lines = []
    digest = hashlib.md5()
    for rel in sorted(files):
        src = project / rel
        dst = run_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        dst.write_bytes(data)
        shutil.copymode(src, dst)
        sha1 = hashlib.sha1(data).hexdigest()
        lines.append(" ".join(shlex.quote(x) for x in ("s", rel, sha1, rel)))
        digest.update(rel.encode("utf-8") + b"\x00" + data + b"\x00")
    (run_dir / ".guild" / "manifest").write_text("".join(l + "\n" for l in lines))
    return digest.hexdigest()


def manifest_files(run_dir: Path) -> list[str]:
    """The run-relative paths of the source files recorded in the run's manifest."""
    try:
        from ..store.paths import read_run_file

        text = read_run_file(run_dir, ".guild/manifest", 64 * 1024 * 1024)[0].decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            parts = shlex.split(line)
        except ValueError:
            continue
        if len(parts) >= 2 and parts[0] == "s":
            out.append(parts[1])
    return out
