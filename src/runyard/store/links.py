"""What a run points at: its dependencies (the ``deps`` attribute) and its linked runs
(pipeline steps ``<step> -> ../<id>``, batch trials ``<trial id> -> ../<trial id>``), in Guild
AI 0.9's format, read the same way for Guild's runs and runyard's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .run import Run, status_of


def run_deps(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """One entry per resolved source: ``resource, source, uri, run`` (upstream id or None) and
    ``paths`` (absolute, resolved from the run-relative paths Guild records)."""
    run_dir = Path(run_dir)
    deps = Run(run_dir).get("deps") or {}
    out = []
    if not isinstance(deps, dict):
        return out
    for resource, sources in deps.items():
        for source, d in (sources or {}).items() if isinstance(sources, dict) else ():
            d = d if isinstance(d, dict) else {}
            paths = [os.path.normpath(run_dir / p) for p in d.get("paths") or []]
            out.append({"resource": str(resource), "source": str(source), "uri": d.get("uri") or str(source),
                        "run": d.get("config") if isinstance(d.get("config"), str) else None, "paths": paths})
    return out


def linked_runs(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Links in the run directory's root to other runs: ``name, id, dir, operation, status``
    (``status`` is ``missing`` for a link whose run is gone, e.g. after a delete)."""
    run_dir = Path(run_dir)
    out = []
    try:
        entries = sorted(os.scandir(run_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return out
    for e in entries:
        if not e.is_symlink():
            continue
        target = (run_dir / os.readlink(e.path))
        if not (target / ".guild").is_dir() and target.exists():
            continue  # a linked dependency, not a run
        rid = target.name
        op = Run(target).operation if target.exists() else ""
        out.append({"name": e.name, "id": rid, "dir": str(target), "operation": op,
                    "status": status_of(target) if target.exists() else "missing"})
    return out


def run_steps(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """A pipeline's steps in order (the ``steps`` attribute), each with its linked run."""
    run_dir = Path(run_dir)
    steps = Run(run_dir).get("steps")
    if not steps:
        return []
    links = {l["name"]: l for l in linked_runs(run_dir)}
    out = []
    for s in steps:
        run = s.get("run", "") if isinstance(s, dict) else str(s)
        op = str(run).split()[0] if str(run).split() else ""
        name = (s.get("name") if isinstance(s, dict) else None) or op.rpartition(":")[2]
        link = links.get(name)
        out.append({"name": name, "run": run, "id": link["id"] if link else None,
                    "status": link["status"] if link else "not run"})
    return out
