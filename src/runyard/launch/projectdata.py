"""The project's data and a run's folder: what the snapshot leaves out, and telling the user.

A run's folder gets the project's source code (:mod:`runyard.launch.sourcecode`), not its
data. So that a script finds what it needs, or the user learns why not:

- the project's empty folders (``plots/``, ``outputs/``) are made in the run too, so a script
  that saves into one works (:func:`empty_dirs`);
- files left out for their size are named when the run starts (:func:`size_note`);
- when a run fails opening a project file that the snapshot left out (ignored by git, over
  1 MiB, binary, in a skipped folder), one line names it, says why it was left out and which
  ``#| requires:`` line brings it in (:func:`missing_file_hint`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_EMPTY_DEPTH = 3  # how deep empty folders are looked for
_EMPTY_MAX_ENTRIES = 1000  # entries looked at, at most, when looking for them


def empty_dirs(project: Path) -> list[str]:
    """Project-relative folders (POSIX) that hold nothing but hidden files (``.gitkeep``) —
    none hidden itself, a virtual environment or anything else the snapshot skips. Looked for
    a few levels down (and among a few thousand entries at most)."""
    from .sourcecode import _dir_reason

    out: list[str] = []
    seen = 0
    stack: list[tuple[Path, str, int]] = [(Path(project), "", 0)]
    while stack and seen < _EMPTY_MAX_ENTRIES:
        d, rel, depth = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:
            continue
        seen += len(entries)
        if rel and all(e.name.startswith(".") and not e.is_dir(follow_symlinks=False) for e in entries):
            out.append(rel.rstrip("/"))
            continue
        if depth >= _EMPTY_DEPTH:
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False) and _dir_reason(Path(e.path), e.name) is None:
                stack.append((Path(e.path), f"{rel}{e.name}/", depth + 1))
    return sorted(out)


def make_empty_dirs(project: Path, run_dir: Path) -> list[str]:
    """Make the project's empty folders in ``run_dir``; returns them."""
    made = empty_dirs(project)
    for rel in made:
        (Path(run_dir) / rel).mkdir(parents=True, exist_ok=True)
    return made


def requires_line(target: str) -> str:
    """The front-matter line that brings the project file or folder ``target`` into a run."""
    return f"#| requires: [{{file: {target}}}]"


def size_note(skipped: list[tuple[str, str]], shown: int = 3) -> str | None:
    """One line naming the files a snapshot left out for their size, or None."""
    big = [(rel, why) for rel, why in skipped if why.startswith("over ") and not rel.endswith("/")]
    if not big:
        return None
    names = ", ".join(f"{rel} ({why.rsplit('(', 1)[-1].rstrip(')')})" for rel, why in big[:shown])
    more = f" and {len(big) - shown} more" if len(big) > shown else ""
    return (f"runyard: not copied into the run, as over {big[0][1].split(' (')[0][len('over '):]}: "
            f"{names}{more}; a script that reads one needs e.g. {requires_line(big[0][0])}")


# What a failed open looks like in a run's output: Python, numpy, pandas, R, readr.
_OPEN_FAILED = [re.compile(p) for p in (
    r"No such file or directory: '([^']+)'",
    r'No such file or directory: "([^"]+)"',
    r"cannot open file '([^']+)': No such file",
    r"'([^']+)' does not exist in current working directory",
    r"FileNotFoundError: (\S+) not found",
    r"File (\S+) does not exist",
    r"Path '([^']+)' does not exist",
)]


def _paths_in(lines: list[str]) -> list[str]:
    found: list[str] = []
    for line in reversed(lines):  # the last error is the one that ended the run
        for pat in _OPEN_FAILED:
            for m in pat.finditer(line):
                if m.group(1) not in found:
                    found.append(m.group(1))
    return found


def _relative(path: str, run_dir: Path) -> str | None:
    """``path`` (as the script named it, from the run's folder) relative to the run's folder."""
    p = Path(os.path.normpath(os.path.join(run_dir, path)))
    try:
        rel = p.relative_to(run_dir)
    except ValueError:
        return None
    return rel.as_posix() if rel.parts and not rel.as_posix().startswith("..") else None


def missing_file_hint(run_dir: Path, script: Any) -> str | None:
    """After a failed run of ``script`` (a :class:`runyard.lang.Script`): if its output says it
    could not open a file that the project has and the snapshot left out, one line naming it,
    why it was left out, and the ``#| requires:`` line to add. None otherwise."""
    from ..store.output import read_lines
    from . import sourcecode

    run_dir = Path(run_dir)
    try:
        tail = [text for _, _, text in read_lines(run_dir)][-60:]
    except OSError:
        return None
    project = script.project_dir
    for path in _paths_in(tail):
        rel = _relative(path, run_dir)
        if rel is None or (run_dir / rel).exists() or not (project / rel).exists():
            continue
        plan = sourcecode.plan(*sourcecode.rules_for(script), explain=True)
        reasons = dict(plan.skipped)
        reasons.update((r, f"over the {sourcecode.MAX_FILES}-file limit") for r in plan.over_limit)
        target, why = rel, reasons.get(rel)
        parts = rel.split("/")
        for i in range(1, len(parts)):  # a skipped folder it is in (the outermost)
            folder = "/".join(parts[:i])
            if folder + "/" in reasons:
                target, why = folder, reasons[folder + "/"]
                break
        where = f"{target}/ was" if target != rel else "it was"
        because = f" ({why})" if why else ""
        return (f"runyard: the run could not open {rel}: {where} not copied into the run's folder{because}; "
                f"to bring it in, add to the script's front matter: {requires_line(target)}")
    return None
