"""Pipelines: a guild.yml operation with ``steps:`` runs each step as its own run.

The pipeline run's process is ``python -m runyard.launch.steps`` (cwd = the pipeline's run
directory). For each step it makes the step's run, links it into the pipeline's directory as
``<step name> -> ../<run id>`` (as Guild AI 0.9 does), and supervises it; the step's output is
the pipeline's output too. A step that fails stops the pipeline, which then exits 1 (``error``).

A step is ``"op flag=value ..."`` or a mapping: ``run`` (the operation and flags), ``name``
(the link name; default: the operation's name), ``flags`` (``${flag}`` refers to the
pipeline's flags) and ``needed`` (reuse a completed run of the same operation and flags).
``GUILD_RUNS_PARENT`` is set to the pipeline's id, so a step's ``operation:`` dependencies
resolve to runs of this pipeline.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ..errors import RunyardError
from ..opdef import parse_step, step_names


def _fill(value: Any, pipeline_flags: dict) -> Any:
    """``${flag}`` in a step's flag value: the pipeline's flag."""
    import re

    if not isinstance(value, str) or "${" not in value:
        return value
    whole = re.fullmatch(r"\$\{([^}]+)\}", value)
    if whole and whole.group(1) in pipeline_flags:
        return pipeline_flags[whole.group(1)]
    return re.sub(r"\$\{([^}]+)\}", lambda m: str(pipeline_flags.get(m.group(1), m.group(0))), value)


def _needed(home: Path, opref_op: tuple[str, str], values: dict) -> Path | None:
    """A completed run of the same operation with the same flags (``needed: yes``)."""
    from ..home import runs_dir
    from ..store.run import Run, parse_opref, status_of

    runs = runs_dir(home)
    best = None
    for name in os.listdir(runs):
        d = runs / name
        try:
            opref = parse_opref((d / ".guild" / "opref").read_text())
        except (FileNotFoundError, NotADirectoryError):
            continue
        if (opref[2], opref[3]) != opref_op or status_of(d) != "completed":
            continue
        r = Run(d)
        flags = {k: v for k, v in (r.get("flags") or {}).items() if not k.startswith("operation:")}
        if flags == {k: v for k, v in values.items() if not k.startswith("operation:")}:
            if best is None or (r.get("started") or 0) > best[0]:
                best = (r.get("started") or 0, d)
    return best[1] if best else None


def run_steps(run_dir: Path) -> int:
    """Run the pipeline whose run directory is ``run_dir``; 0 when every step completed."""
    from .. import guildfile
    from ..home import find_home
    from ..store.run import Run, status_of
    from . import runner

    pipeline = Run(run_dir)
    pkg = pipeline.opref[0]
    gf = guildfile.load(Path(pkg.split(":", 1)[1]))
    model = pipeline.opref[2]
    home = find_home()
    pflags = pipeline.get("flags") or {}
    os.environ["GUILD_RUNS_PARENT"] = pipeline.id
    where = f"{model + ':' if model else ''}{pipeline.opref[3]}"
    steps = [parse_step(raw, where) for raw in pipeline.get("steps") or []]  # checked before the run
    for step, link_name in zip(steps, step_names(steps)):
        step["name"] = link_name
        spec = step["op"] if ":" in step["op"] or not model else f"{model}:{step['op']}"
        script = gf.script(spec)
        flags = {k: _fill(v, pflags) for k, v in step["flags"].items()}
        link = run_dir / step["name"]
        print(f"INFO: [runyard] running {step['name']}: {script.name}"
              + "".join(f" {k}={v}" for k, v in flags.items()), flush=True)
        if step["needed"]:
            values = runner.resolve_values(script, flags)
            found = _needed(home, (script.op.model, script.op.name), values)
            if found is not None:
                print(f"INFO: [runyard] skipping {step['name']}: run {found.name[:8]} has these flags", flush=True)
                _link(link, found.name)
                continue
        try:
            prepared = runner.prepare(script, flags, home=home, label=step["label"], tags=step["tags"])
        except RunyardError as e:
            print(f"runyard: step {step['name']}: {e}", file=sys.stderr, flush=True)
            return 1
        _link(link, prepared.run.id)
        runner.start(prepared, echo=True)
        status = status_of(prepared.run.dir)
        if status != "completed":
            print(f"runyard: step {step['name']} ({prepared.run.id[:8]}) {status}; the pipeline stops",
                  file=sys.stderr, flush=True)
            return 1
    return 0


def _link(link: Path, run_id: str) -> None:
    """``<step name> -> ../<run id>`` (relative, as Guild makes it), replacing an older link."""
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(f"../{run_id}", link)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    sys.exit(run_steps(Path.cwd()))
