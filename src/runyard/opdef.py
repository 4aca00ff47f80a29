"""The operation model: one parser and validator for every source of an operation.

An operation is a mapping of keys, the same keys whether an operation of a guild.yml declares
them or a script's ``#|`` front matter does (``requires``, ``output-scalars``, ``sourcecode``,
``flags-dest``, ``env``, ``label``, ``tags``, ``objective``, ``optimizers``...). :func:`check`
validates such a mapping, once, for both: it says in one line which keys are ignored and why,
refuses the keys that would make runyard run something else, and normalizes the rest.
:func:`requirements` reads ``requires`` (file and operation sources, resources by name),
:func:`parse_step` a pipeline step, :func:`sourcecode_dest` where a snapshot goes.

This module sits below :mod:`runyard.lang`, :mod:`runyard.guildfile` and :mod:`runyard.launch`:
it imports none of them.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

from .errors import UsageError
from .flags import FlagDef

# Keys runyard reads (docs/guild-projects.md lists them with their tests).
OP_KEYS = {
    "description", "main", "exec", "steps", "flags", "flags-dest", "flags-import", "flags-import-skip",
    "requires", "sourcecode", "output-scalars", "label", "tags", "env", "default", "$include",
    "objective", "default-max-trials",
}
# Front matter only: the R package's keys (docs/r.md).
SCRIPT_KEYS = {"echo", "flags_dest", "name"}
# Read but without effect in runyard, said once (the run still does what the user expects).
IGNORED_KEYS = {
    "compare": "runyard compare shows every flag and scalar",
    "optimizers": "give --optimizer to runyard run",
    "optimizer": "give --optimizer to runyard run",
    "pip-freeze": "runyard does not record pip_freeze",
    "stoppable": "every runyard run can be stopped",
    "handle-keyboard-interrupt": "runyard always records Ctrl-C as terminated",
    "python-requires": "runyard does not check Python versions",
    "python-path": "the run directory is on sys.path",
    "env-secrets": "secret-looking environment names are never stored",
    "can-stage-trials": "runyard batches can always be staged",
    "delete-on-success": "runyard keeps every run",
    "publish": "runyard has no publish command",
    "run-attrs": "runyard does not write custom attributes",
    "flag-encoder": "runyard searches encode min/max themselves",
    "default-flag-arg-skip": "use arg-skip on each flag",
}
# Keys that change what runs: refused rather than ignored.
REFUSED_KEYS = {"notebook": "notebook operations", "plugins": "Guild plugins"}
# A script is its operation's main: these guild.yml keys mean nothing in its front matter.
NOT_IN_SCRIPTS = {"main", "exec", "steps", "flags-import", "flags-import-skip", "default", "$include"}

SOURCE_KEYS = {"file", "operation", "select", "rename", "target-path", "path", "target-type", "name",
               "optional", "help", "sources", "warn-if-empty", "flag-name", "description"}
STEP_KEYS = {"run", "name", "flags", "needed", "label", "tags"}

_warned: set[str] = set()


def warn(msg: str) -> None:
    """One line on stderr (control characters escaped), once per process."""
    if msg not in _warned:
        _warned.add(msg)
        from .terminal import safe

        print(f"runyard: {safe(msg)}", file=sys.stderr)


def check(data: dict, file: str, what: str, *, script: bool = False, refuse: bool = True) -> dict:
    """Validate an operation's keys: ``file`` and ``what`` name it in messages (``guild.yml``,
    ``operation 'train'``; ``train.py``, ``the front matter``). Ignored keys are said in one line
    each; keys runyard refuses raise a one-line UsageError (``refuse``: now, else when the
    operation runs). Returns ``data`` with ``tags`` and ``env`` normalized."""
    if not isinstance(data, dict):
        raise UsageError(f"{file}: {what} must be a mapping")
    for key in data:
        if script and key in NOT_IN_SCRIPTS:
            warn(f"{file}: '{key}' of {what} is ignored (the script itself is what runs)")
        elif key in OP_KEYS or script and key in SCRIPT_KEYS:
            continue
        elif key in REFUSED_KEYS:
            if refuse:
                raise UsageError(f"{file}: {what} uses '{key}': {REFUSED_KEYS[key]} are not supported by runyard")
        elif key in IGNORED_KEYS:
            warn(f"{file}: '{key}' of {what} is ignored ({IGNORED_KEYS[key]})")
        else:
            warn(f"{file}: unknown key {quoted(key)} in {what}; ignored")
    out = dict(data)
    if "tags" in out:
        out["tags"] = tags_of(out["tags"])
    if "env" in out:
        env = out["env"] or {}
        if not isinstance(env, dict):
            raise UsageError(f"{file}: env of {what} must be a mapping of names to values")
        out["env"] = {str(k): "" if v is None else str(v) for k, v in env.items()}
    if "objective" in out:
        objective(out["objective"], f"{file}: objective of {what}")
    if "default-max-trials" in out:
        n = out["default-max-trials"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise UsageError(f"{file}: default-max-trials of {what} must be a whole number of at least 1")
    if refuse and out.get("requires"):
        requirements(out["requires"], file, what)  # validated now, resolved when the run is made
    return out


def quoted(key: Any) -> str:
    """A name as a message shows it: quoted, on one line (control characters escaped), at most
    80 characters."""
    from .terminal import safe

    text = safe(key)
    return "'" + (text if len(text) <= 80 else text[:79] + "…") + "'"


def env_of(options: dict, values: dict) -> dict[str, str]:
    """The operation's ``env`` with ``${flag}`` references filled in from the run's values."""
    import re

    from .flags import format_value

    def text(v: Any) -> str:
        return "" if v is None else format_value(v) if isinstance(v, bool) else str(v)

    return {str(k): re.sub(r"\$\{([^}]+)\}", lambda m: text(values[m.group(1)]) if m.group(1) in values
                           else m.group(0), text(v)) for k, v in (options.get("env") or {}).items()}


def objective(value: Any, where: str = "objective") -> tuple[str | None, str | None]:
    """``(minimize, maximize)`` of an operation's ``objective``: ``loss``, ``-acc`` (maximize),
    ``{minimize: loss}`` or ``{maximize: acc}``; ``(None, None)`` when it has none."""
    if value is None:
        return None, None
    if isinstance(value, str) and value.strip():
        v = value.strip()
        return (None, v[1:].strip()) if v.startswith("-") else (v, None)
    if isinstance(value, dict) and len(value) == 1:
        (key, col), = value.items()
        if key in ("minimize", "maximize") and isinstance(col, str) and col.strip():
            return (col.strip(), None) if key == "minimize" else (None, col.strip())
    raise UsageError(f"{where} must be a scalar name, -NAME, {{minimize: NAME}} or {{maximize: NAME}}")


def tags_of(v: Any) -> list[str]:
    if v is None:
        return []
    return [str(t) for t in (v if isinstance(v, list) else [v])]


def requirements(reqs: Any, file: str, name: str, resources: dict | None = None) -> list[tuple[str, dict]]:
    """``(resource name, source spec)`` for every entry of ``requires`` of operation ``name``:
    file and operation sources, a list under ``sources:``, or a model resource named by a string."""
    out = []
    resources = resources or {}
    for req in reqs if isinstance(reqs, list) else [] if reqs is None else [reqs]:
        if isinstance(req, str):
            key = req.split(":", 1)[-1]
            res = resources.get(key)
            if res is None:
                raise UsageError(f"{file}: {name} requires '{req}', which is not a resource of its model")
            srcs = res.get("sources", res) if isinstance(res, dict) else res
            for s in srcs if isinstance(srcs, list) else [srcs]:
                out.append((key, _source(s if isinstance(s, dict) else {"file": s}, file, name)))
            continue
        if not isinstance(req, dict):
            raise UsageError(f"{file}: invalid requires entry of {name}: {req!r}")
        if "sources" in req:
            srcs = req["sources"]
            for s in srcs if isinstance(srcs, list) else [srcs]:
                s = _source(s if isinstance(s, dict) else {"file": s}, file, name)
                out.append((str(req.get("name") or uri(s)), s))
            continue
        req = _source(req, file, name)
        out.append((source_name(req), req))
    return out


def _source(spec: dict, file: str, name: str) -> dict:
    for key in spec:
        if key not in SOURCE_KEYS:
            kind = "source type" if key in ("url", "config", "module") else "source attribute"
            raise UsageError(f"{file}: {kind} {quoted(key)} in requires of {name} is not supported by runyard "
                             "(file: and operation: sources are)")
    uri(spec)
    return spec


def uri(spec: dict) -> str:
    """``file:PATH`` or ``operation:NAME``: how Guild names a source."""
    if "file" in spec:
        return f"file:{spec['file']}"
    if "operation" in spec:
        return f"operation:{spec['operation']}"
    raise UsageError(f"a requires entry needs file: or operation: ({sorted(map(str, spec))})")


def source_name(spec: dict) -> str:
    """A source's name in the ``deps`` attribute: ``name``, else ``flag-name``, else its uri."""
    flag = spec.get("flag-name")
    return str(spec.get("name") or (flag if isinstance(flag, str) else "") or uri(spec))


def flag_name(spec: dict) -> str | None:
    """The flag that chooses an operation source's run: ``flag-name``, else the source's name
    (``operation:prepare``); None for a file source or ``flag-name: no``."""
    if "operation" not in spec:
        return None
    flag = spec.get("flag-name")
    if flag is False:
        return None
    return str(flag) if isinstance(flag, str) and flag else source_name(spec)


def dep_flags(reqs: list[tuple[str, dict]]) -> dict[str, FlagDef]:
    """The flags operation dependencies add (``operation:prepare``: which run to use)."""
    out = {}
    for _resource, spec in reqs:
        name = flag_name(spec)
        if name:
            out[name] = FlagDef(name=name, extra={"guild-arg-skip": True},
                                    description=f"Run of {spec['operation']} to use (id or prefix; "
                                                "default: the marked, else latest completed)")
    return out


def sourcecode_dest(spec: Any) -> str:
    """Where in the run directory the snapshot goes (``sourcecode: {dest: src}``; "" = the root)."""
    from pathlib import PurePosixPath

    dest = str(spec.get("dest") or ".") if isinstance(spec, dict) else "."
    parts = [p for p in PurePosixPath(dest).parts if p not in (".", "")]
    if dest.startswith("/") or ".." in parts:
        raise UsageError(f"sourcecode dest {dest!r} must be a directory inside the run directory")
    return "/".join(parts)


def parse_step(step: Any, where: str) -> dict:
    """A pipeline step (``"op flag=value -l LABEL"`` or a mapping) as
    ``{op, name, flags, needed, label, tags}``."""
    from .flags.values import parse_assign

    if isinstance(step, str):
        step = {"run": step}
    if not isinstance(step, dict) or not isinstance(step.get("run"), str) or not step["run"].strip():
        raise UsageError(f"guild.yml: invalid step in {where}: {step!r}")
    for k in step:
        if k not in STEP_KEYS:
            raise UsageError(f"guild.yml: step attribute '{k}' in {where} is not supported by runyard")
    try:
        words = shlex.split(step["run"])
    except ValueError as e:
        raise UsageError(f"guild.yml: invalid step in {where}: {e}") from None
    opts: dict[str, Any] = {"label": step.get("label"), "tags": tags_of(step.get("tags")),
                            "needed": bool(step.get("needed"))}
    assigns = []
    rest = iter(words[1:])
    for w in rest:
        if w in ("-l", "--label", "-t", "--tag"):
            value = next(rest, None)
            if value is None:
                raise UsageError(f"guild.yml: step option {w} in {where} needs a value")
            if w in ("-l", "--label"):
                opts["label"] = value
            else:
                opts["tags"].append(value)
        elif w.startswith(("--label=", "--tag=")):
            key, _, value = w.partition("=")
            if key == "--label":
                opts["label"] = value
            else:
                opts["tags"].append(value)
        elif w in ("--needed", "-N"):
            opts["needed"] = True
        elif w.startswith("-"):
            raise UsageError(f"guild.yml: step option {w} in {where} is not supported by runyard "
                             "(steps take -l/--label, -t/--tag and --needed)")
        else:
            assigns.append(w)
    flags = dict(parse_assign(w) for w in assigns)
    given = step.get("flags") or {}
    if isinstance(given, list):
        given = dict(parse_assign(str(w)) for w in given)
    if not isinstance(given, dict):
        raise UsageError(f"guild.yml: flags of a step in {where} must be a mapping")
    flags.update(given)
    op = words[0]
    return {"op": op, "name": str(step.get("name") or op.rpartition(":")[2]), "flags": flags, **opts}


def step_names(steps: list[dict]) -> list[str]:
    """The link name of each parsed step: its name, then ``name_2``, ``name_3``... (as Guild)."""
    seen: dict[str, int] = {}
    out = []
    for step in steps:
        n = seen[step["name"]] = seen.get(step["name"], 0) + 1
        out.append(step["name"] if n == 1 else f"{step['name']}_{n}")
    return out
