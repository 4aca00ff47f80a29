"""The source snapshot: which project files are copied to the run directory's root.

The same default rules hold in and out of git; in a git project, a file git ignores is
skipped too. By default a snapshot holds text files of at most 1 MiB
(``MAX_DEFAULT_SOURCECODE_FILE_SIZE``), at most 100 of them
(``MAX_DEFAULT_SOURCECODE_COUNT``; shallower paths first, then one warning line), and skips
hidden files and directories, virtual environments (``pyvenv.cfg``, ``bin/activate``,
``conda-meta/``), ``__pycache__``, ``build``/``dist``/``node_modules``/``*.egg-info``, any
directory holding ``.guild-nocopy`` (``runyard export`` makes one), runs homes and run
directories. Front-matter ``sourcecode:`` rules (``include`` / ``exclude`` glob patterns,
last match wins, or ``no``) override all of this; the script itself and its flags-dest file
are always copied. :func:`plan` says what is copied and why each other file is not.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError

MAX_FILE_SIZE = int(os.environ.get("MAX_DEFAULT_SOURCECODE_FILE_SIZE", 1024 * 1024))
MAX_FILES = int(os.environ.get("MAX_DEFAULT_SOURCECODE_COUNT", 100))
_MAX_WALK = 20000  # files looked at, at most (a project with more is not walked further)
_SKIP_NAMES = {"__pycache__": "__pycache__", "build": "build output", "dist": "build output",
               "node_modules": "node_modules"}
_NEVER = (".git", ".guild")  # never copied, whatever the rules say
_warned: set[str] = set()  # projects already warned about the file limit, in this process


@dataclass
class Plan:
    """What a snapshot copies (``files``) and why every other file is left out (``skipped``:
    ``(path, reason)``, a directory once with a trailing ``/``)."""

    project: Path
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    over_limit: list[str] = field(default_factory=list)  # files dropped by the MAX_FILES limit

    def limit_warning(self) -> str | None:
        """The one line that says the file limit was hit, and which rule to add."""
        if not self.over_limit:
            return None
        tops: dict[str, int] = {}
        for rel in self.files + self.over_limit:
            if "/" in rel:
                top = rel.split("/", 1)[0]
                tops[top] = tops.get(top, 0) + 1
        if tops:
            top = max(sorted(tops), key=tops.__getitem__)
            rule = f"#| sourcecode: [exclude: {top}]"
        else:
            rule = "#| sourcecode: [exclude: '*', include: '*.py']"
        return (f"runyard: copied {len(self.files)} source files and skipped {len(self.over_limit)} more "
                f"(the limit is {MAX_FILES}); to choose, add a rule to the script's front matter, "
                f"e.g. {rule} (runyard run SCRIPT --test-sourcecode shows the selection)")

    def explain(self) -> str:
        """The selection as ``runyard run --test-sourcecode`` prints it."""
        size = 0
        for rel in self.files:
            try:
                size += (self.project / rel).stat().st_size
            except OSError:
                pass
        out = [f"Source code from {self.project}",
               f"Copied ({len(self.files)} files, {_size(size)}):"]
        out += [f"  {rel}" for rel in self.files] or ["  (nothing)"]
        skipped = self.skipped + [(rel, f"over the {MAX_FILES}-file limit") for rel in self.over_limit]
        if skipped:
            out.append("Skipped:")
            width = min(max(len(p) for p, _ in skipped), 50)
            out += [f"  {p.ljust(width)}  {why}" for p, why in sorted(skipped)]
        warning = self.limit_warning()
        if warning:
            out.append(warning[len("runyard: "):])
        return "\n".join(out)


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


def _dir_reason(d: Path, name: str) -> str | None:
    """Why the directory ``d`` is not source code, or None."""
    if name.startswith("."):
        return "hidden"
    if name in _SKIP_NAMES:
        return _SKIP_NAMES[name]
    if name.endswith(".egg-info"):
        return "build output"
    if d.is_symlink():
        return "a link"
    if (d / ".guild-nocopy").exists():
        return "holds .guild-nocopy (e.g. made by runyard export)"
    for marker in ("pyvenv.cfg", "bin/activate", "Scripts/activate", "conda-meta"):
        if (d / marker).exists():
            return f"a virtual environment ({marker})"
    if (d / ".guild" / "opref").exists():
        return "a run directory"
    if _is_runs_home(d):
        return "a runs home"
    return None


def _is_runs_home(d: Path) -> bool:
    runs = d / "runs"
    if not runs.is_dir():
        return False
    try:
        with os.scandir(runs) as it:
            for i, e in enumerate(it):
                if len(e.name) == 32 and os.path.isdir(os.path.join(e.path, ".guild")):
                    return True
                if i > 20:
                    break
    except OSError:
        pass
    return False


def _file_reason(path: Path, name: str) -> str | None:
    """Why the file ``path`` is not source code by default, or None."""
    if name.startswith("."):
        return "hidden"
    try:
        size = path.stat().st_size
    except OSError:
        return "unreadable"
    if size > MAX_FILE_SIZE:
        return f"over {_size(MAX_FILE_SIZE)} ({_size(size)})"
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return "unreadable"
    if b"\x00" in head:
        return "binary"
    return None


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


def _match(rel: str, pattern: str, by_name: bool = True) -> bool:
    """True if the rule ``pattern`` matches the path ``rel``: the whole path, a directory it is
    in, or (``by_name``) its base name."""
    pattern = pattern.rstrip("/")
    if fnmatch.fnmatch(rel, pattern) or by_name and fnmatch.fnmatch(rel.rsplit("/", 1)[-1], pattern):
        return True
    return rel.startswith(pattern + "/") or fnmatch.fnmatch(rel, pattern + "/*")


def _reaches(dir_rel: str, includes: list[str]) -> bool:
    """True if an include pattern names the directory ``dir_rel`` or something inside it."""
    parts = dir_rel.split("/")
    for pat in includes:
        if _match(dir_rel, pat):
            return True
        pparts = pat.rstrip("/").split("/")
        if len(pparts) > len(parts) and all(fnmatch.fnmatch(a, b) for a, b in zip(parts, pparts)):
            return True
    return False


def _walk(project: Path, includes: list[str], skipped: list[tuple[str, str]]) -> list[tuple[str, str | None]]:
    """(file, reason of the skipped directory it is in, or None), walking the project.

    Skipped directories are not entered unless an include rule reaches into them; each is
    reported once in ``skipped``."""
    out: list[tuple[str, str | None]] = []
    stack: list[tuple[Path, str, str | None]] = [(project, "", None)]
    while stack and len(out) < _MAX_WALK:
        d, rel, inherited = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            erel = f"{rel}{e.name}"
            if e.is_dir(follow_symlinks=False) or (e.is_symlink() and e.is_dir()):
                if e.name in _NEVER:
                    continue
                reason = inherited or _dir_reason(Path(e.path), e.name)
                if reason and not inherited:
                    skipped.append((erel + "/", reason))
                if reason and not _reaches(erel, includes):
                    continue
                subdirs.append((Path(e.path), erel + "/", reason))
            elif e.is_file():
                out.append((erel, inherited))
        stack.extend(reversed(subdirs))
    return out


def plan(project: Path, spec: Any = None, always: tuple[str, ...] = (), explain: bool = False) -> Plan:
    """What a snapshot of ``project`` copies under the front-matter rules ``spec``, and why
    each other file is skipped. ``always`` (the script, its flags-dest file) are copied.
    ``explain`` also lists what git ignores (one more git call)."""
    project = Path(project)
    result = Plan(project)
    rules = _rules(spec)
    if rules is None:
        result.files = sorted(set(always))
        result.skipped.append((".", "sourcecode: no (front matter)"))
        return result
    includes = [pat for kind, pat in rules if kind == "include"]
    git = git_files(project)
    skipped: list[tuple[str, str]] = []
    if git is None or includes:
        found = _walk(project, includes, skipped)
    else:
        found = []
    seen = {rel for rel, _ in found}
    if git is not None:
        in_git_set = set(git)
        found += _dir_reasons(project, [rel for rel in git if rel not in seen], skipped)
    chosen: list[str] = []
    explicit: set[str] = set()
    for rel, dir_reason in found:
        if rel in always:
            continue
        if dir_reason is not None:
            reason = dir_reason
        elif git is not None and rel not in in_git_set:
            reason = "ignored by git"
        else:
            reason = _file_reason(project / rel, rel.rsplit("/", 1)[-1])
        decided_by_rule = False
        for kind, pat in rules:
            # In a skipped directory, only a rule naming the path includes a file (not '*.py').
            if _match(rel, pat, by_name=dir_reason is None or kind == "exclude"):
                decided_by_rule = True
                reason = None if kind == "include" else f"excluded by the rule '{pat}'"
        if reason is None:
            chosen.append(rel)
            if decided_by_rule:
                explicit.add(rel)
        elif not dir_reason or decided_by_rule:
            skipped.append((rel, reason))
    default = sorted((r for r in chosen if r not in explicit), key=lambda r: (r.count("/"), r))
    room = max(MAX_FILES - len(always), 0)
    result.over_limit = sorted(default[room:])
    result.files = sorted(set(default[:room]) | explicit | set(always))
    if explain and git is not None:
        dirs = tuple(p for p, _ in skipped if p.endswith("/"))
        skipped += [(rel, "ignored by git") for rel in _git_ignored(project)
                    if rel not in seen and not rel.startswith(dirs)]
    result.skipped = skipped
    return result


def _git_ignored(project: Path) -> list[str]:
    """Files and directories (``dir/``) git ignores, as ``git status --ignored`` lists them."""
    import subprocess

    try:
        out = subprocess.run(["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"],
                             cwd=project, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    names = out.stdout.decode("utf-8", "surrogateescape").split("\0") if out.returncode == 0 else []
    return [n for n in names if n and not any(part in _NEVER for part in n.split("/"))]


def _dir_reasons(project: Path, files: list[str], skipped: list[tuple[str, str]]) -> list[tuple[str, str | None]]:
    """(file, reason of the skipped directory it is in, or None) for project-relative files."""
    cache: dict[str, str | None] = {"": None}

    def reason_of(dir_rel: str) -> str | None:
        if dir_rel in cache:
            return cache[dir_rel]
        parent, _, name = dir_rel.rpartition("/")
        up = reason_of(parent)
        if up is not None:
            cache[dir_rel] = up
            return up
        if name in _NEVER:
            r = "hidden"
        else:
            r = _dir_reason(project / dir_rel, name)
        if r is not None:
            skipped.append((dir_rel + "/", r))
        cache[dir_rel] = r
        return r

    return [(rel, reason_of(rel.rpartition("/")[0])) for rel in files]


def select(project: Path, spec: Any = None, always: tuple[str, ...] = ()) -> list[str]:
    """Project-relative POSIX paths of the files to snapshot (``always`` are added). Past the
    file limit, one warning line goes to stderr (once per project and process)."""
    return checked_plan(project, spec, always).files


def checked_plan(project: Path, spec: Any = None, always: tuple[str, ...] = ()) -> Plan:
    """:func:`plan`, with the warning line of :func:`select` past the file limit."""
    p = plan(project, spec, always)
    warning = p.limit_warning()
    if warning and str(project) not in _warned:
        _warned.add(str(project))
        print(warning, file=sys.stderr)
    return p


def rules_for(script: Any) -> tuple[Path, Any, tuple[str, ...]]:
    """(project, front-matter rules, files always copied) of a :class:`runyard.lang.Script`:
    the script itself (not for a guild.yml ``steps``/``exec`` operation) and its flags-dest file."""
    project = script.project_dir
    opts = script.options
    always = [script.relpath] if not (opts.get("steps") or opts.get("exec")) else []
    dest = script.flags_dest
    if dest not in ("globals", "args"):
        dest_rel = dest[len("config:"):] if dest.startswith("config:") else dest
        while dest_rel.startswith("./"):
            dest_rel = dest_rel[2:]
        if (project / dest_rel).is_file():
            always.append(dest_rel)
    return project, opts.get("sourcecode"), tuple(always)

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
