"""Read a run directory into a *record*: the flat dict that listings, filters and the index use."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from . import attrs as _attrs
from .run import batch_operation, format_operation, parse_opref, status_of

# attribute name -> record key
_ATTRS = ("started", "stopped", "exit_status", "label", "tags", "marked", "comments",
          "sourcecode_digest", "flags", "seed_flag")  # seed_flag: runyard's, from --seeds


_MARKERS = ("LOCK.remote", "PENDING", "STAGED", "LOCK")  # .guild entries the status depends on


def read_record(run_dir: str | os.PathLike, guild_names: set[str] | None = None) -> dict[str, Any]:
    """Everything a listing shows about one run. A corrupt attribute is reported in ``error``.
    ``guild_names``: the names in the run's ``.guild``, if the caller has just listed it.

    This is the cold index's inner loop (every run of a home): plain strings, no listing of
    ``attrs`` (reading one costs more than a dozen failed opens), each file read with
    :func:`attrs.read_bytes`."""
    d = os.fspath(run_dir)
    rid = d.rpartition("/")[2]
    if rid in ("", ".", ".."):
        rid = Path(d).name
    rec: dict[str, Any] = {"id": rid}
    problems = []
    guild = d + "/.guild/"
    attrs_dir = guild + "attrs/"
    names = set()  # the attribute files there are
    for name in _ATTRS:
        try:
            rec[name] = _attrs.read(attrs_dir + name)
        except FileNotFoundError:
            continue
        except (_attrs.AttrError, UnicodeDecodeError, OSError) as e:
            problems.append(f"{name}: {str(e).splitlines()[0]}")
        names.add(name)
    try:
        opref = _read_opref(guild + "opref")
    except (OSError, UnicodeDecodeError, ValueError) as e:  # not UTF-8, unbalanced quotes: still listed
        opref = ["", "", "", ""]
        problems.append(f"opref: {str(e).splitlines()[0]}")
    rec["operation"] = batch_operation(d, opref) or format_operation(opref)
    pkg = opref[0]
    rec["project_dir"] = pkg.split(":", 1)[1] if pkg.startswith(("script:", "guildfile:")) else None
    if rec.get("project_dir", "") and pkg.startswith("guildfile:"):
        rec["project_dir"] = str(Path(rec["project_dir"]).parent)
    flags = rec.get("flags")
    if flags is not None and not isinstance(flags, dict):
        problems.append("flags: not a mapping")
        rec["flags"] = {}
    tags = rec.get("tags")
    if tags is not None and not isinstance(tags, list):
        rec["tags"] = [str(tags)]
    rec["marked"] = bool(rec.get("marked") or False)
    exit_status = rec.get("exit_status")
    if exit_status is None or (_any_exists(guild, _MARKERS) if guild_names is None
                               else not guild_names.isdisjoint(_MARKERS)):
        rec["status"] = status_of(Path(d), exit_status)
    else:  # no marker, no LOCK: the exit status decides (status_of, without its Path joins)
        rec["status"] = _exit_status(exit_status)
    if rec["status"] == "error" and "exit_status" not in names:
        # It may have finished while we read it: the exit status is written before the LOCK
        # goes, so with the LOCK gone, a second look is final.
        for name in ("exit_status", "stopped"):
            try:
                rec[name] = _attrs.read(attrs_dir + name)
            except (FileNotFoundError, _attrs.AttrError, UnicodeDecodeError, OSError):
                pass
        rec["status"] = status_of(Path(d), rec.get("exit_status"))
    if "exit_status" in names and "exit_status" not in rec:
        rec["status"] = "error"
    rec["is_batch"] = is_batch_opref(opref)
    if problems:
        rec["error"] = "; ".join(problems)
    return rec


def _read_opref(path: str) -> list[str]:
    """:attr:`Run.opref` read as text would be (strict UTF-8, universal newlines)."""
    try:
        text = _attrs.read_bytes(path).decode("utf-8")
    except FileNotFoundError:
        return ["", "", "", ""]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return parse_opref(text)


def _any_exists(prefix: str, names: tuple[str, ...]) -> bool:
    for name in names:
        try:
            os.stat(prefix + name)
            return True
        except OSError:
            pass
    return False


def _exit_status(exit_status: Any) -> str:
    """:func:`status_of` of a run with an exit status and no marker files."""
    try:
        code = int(exit_status)
    except (TypeError, ValueError):
        return "error"
    return "completed" if code == 0 else ("terminated" if code < 0 else "error")


def is_batch_opref(opref: list[str]) -> bool:
    """Batch runs (``train.py+``, ``train.py+tpe``, Guild's ``+``) have a builtin opref with a ``+``."""
    return opref[0].startswith("builtin:") and "+" in opref[3]


def is_final(rec: dict) -> bool:
    """A run whose status cannot change without a write to its attributes.

    That includes a run with no exit status whose supervisor is gone: every run is
    made with a live ``LOCK`` (or a ``STAGED`` marker), so it can't come back to life.
    """
    return rec.get("status") in ("completed", "error", "terminated")


def summarize(scalars: list[tuple[str, str, float, int]]) -> list[list]:
    """Per (path, tag): [path, tag, first_val, first_step, last_val, last_step, min_val, min_step,
    max_val, max_step, avg_val, total, count] (first/last by step, ties to the later event)."""
    acc: dict[tuple[str, str], list] = {}
    for path, tag, val, step in scalars:
        s = acc.get((path, tag))
        if s is None:
            acc[(path, tag)] = [path, tag, val, step, val, step, val, step, val, step, 0.0, val, 1]
            continue
        if step < s[3]:
            s[2], s[3] = val, step
        if step >= s[5]:
            s[4], s[5] = val, step
        if val < s[6] or (isinstance(s[6], float) and math.isnan(s[6])):
            s[6], s[7] = val, step
        if val > s[8] or (isinstance(s[8], float) and math.isnan(s[8])):
            s[8], s[9] = val, step
        s[11] += val
        s[12] += 1
    for s in acc.values():
        s[10] = s[11] / s[12]
    return list(acc.values())


def scalar_column(path: str, tag: str) -> str:
    """The ``ls_runs`` column key of a scalar: ``tag`` for output scalars, ``subdir/tag`` otherwise."""
    if path in ("", ".", ".guild"):
        return tag
    return f"{path}/{tag}"
