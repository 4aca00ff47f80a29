"""How two runs differ: flags, dependencies, source files and output (text form; the web view and reports reuse it)."""

from __future__ import annotations

import difflib
from pathlib import Path

from .flags import format_value
from .launch.sourcecode import manifest_files
from .store.output import read_output
from .store.paths import PathRefused, read_run_file, safe_relpath


def flag_changes(a: dict, b: dict) -> list[tuple[str, object, object]]:
    """(name, value in a, value in b) for every flag whose value differs."""
    fa, fb = a.get("flags") or {}, b.get("flags") or {}
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def source_files(a: dict, b: dict) -> list[str]:
    """Union of both runs' source files (from their manifests)."""
    return sorted(set(manifest_files(Path(a["dir"]))) | set(manifest_files(Path(b["dir"]))))


#: The most of one file a text diff reads (a diff of anything larger is not readable anyway).
MAX_DIFF_BYTES = 8 * 1024 * 1024


def _read(run: dict, rel: str) -> list[str]:
    """Lines of a run file for a diff: [] if missing; contained in the run and capped (store.paths)."""
    try:
        data, cut = read_run_file(run["dir"], rel, MAX_DIFF_BYTES)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return []
    except PathRefused as e:  # a manifest naming a path outside the run, a FIFO, a device
        return [f"[not read: {e}]\n"]
    lines = data.decode("utf-8", "replace").splitlines(keepends=True)
    if cut:
        lines.append(f"[... cut at {MAX_DIFF_BYTES} bytes]\n")
    return lines


def file_diff(a: dict, b: dict, rel: str) -> str:
    return "".join(difflib.unified_diff(_read(a, rel), _read(b, rel), f"{a['id'][:8]}/{rel}", f"{b['id'][:8]}/{rel}"))


def output_diff(a: dict, b: dict) -> str:
    la = read_output(Path(a["dir"]), MAX_DIFF_BYTES).decode("utf-8", "replace").splitlines(keepends=True)
    lb = read_output(Path(b["dir"]), MAX_DIFF_BYTES).decode("utf-8", "replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(la, lb, f"{a['id'][:8]}/output", f"{b['id'][:8]}/output"))


def _deps_lines(run: dict) -> list[str]:
    from .store.links import run_deps

    lines = []
    for d in run_deps(run["dir"]):
        files = ", ".join(d["paths"])
        what = f"run {d['run'][:8]}" + (f": {files}" if files else "") if d["run"] else files
        lines.append(f"{d['resource']}: {what}\n")  # the upstream run and the files it resolved
    return lines


def deps_diff(a: dict, b: dict) -> str:
    """The dependency section: each resource and what it resolved to (upstream run or files)."""
    la, lb = _deps_lines(a), _deps_lines(b)
    if not la and not lb:
        return ""
    if la == lb:
        return f"--- deps {a['id'][:8]}\n+++ deps {b['id'][:8]}\n  (no dependency differences)\n"
    return "".join(difflib.unified_diff(la, lb, f"deps {a['id'][:8]}", f"deps {b['id'][:8]}"))


def text_diff(a: dict, b: dict, what: str | None = None, paths: list[str] | None = None) -> str:
    """A readable diff of run ``a`` (older) against run ``b``."""
    out = []
    if paths:
        for rel in paths:
            safe_relpath(rel)  # a path given by the user that leaves the run: one clear line
            out.append(file_diff(a, b, rel))
        return "".join(out)
    if what in (None, "flags"):
        changes = flag_changes(a, b)
        out.append(f"--- flags {a['id'][:8]}\n+++ flags {b['id'][:8]}\n")
        if not changes:
            out.append("  (no flag differences)\n")
        for name, va, vb in changes:
            out.append(f"- {name}: {format_value(va) if va is not None else '(none)'}\n")
            out.append(f"+ {name}: {format_value(vb) if vb is not None else '(none)'}\n")
    if what in (None, "deps"):
        out.append(deps_diff(a, b))
    if what in (None, "sourcecode"):
        for rel in source_files(a, b):
            out.append(file_diff(a, b, rel))
    if what in (None, "output"):
        out.append(output_diff(a, b))
    return "".join(out)
