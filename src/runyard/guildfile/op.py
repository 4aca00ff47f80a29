"""guild.yml operations as an operation source of :mod:`runyard.lang` (the ``guildfile`` entry).

An operation starts in one of three ways:

- ``main: MODULE [ARGS]``: the project's Python module (``train`` -> ``train.py``) with its
  arguments (``${flag}`` references filled in). Flags come from the guild.yml and, per
  ``flags-import``, from the module itself (runyard's Python flag inference: globals or argparse);
  values reach the script as Guild's ``flags-dest`` says: ``args`` (``--name value``),
  ``globals`` (the run's copy rewritten), ``config:FILE`` (the run's copy of FILE rewritten);
- ``exec: COMMAND``: a command template (``${python_exe}``, ``${flag_args}``, ``${FLAG}``);
- ``steps:``: a pipeline, run by :mod:`runyard.launch.steps`.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import opdef
from ..errors import UsageError
from ..flags import FlagDef
from .. import lang
from ..lang import Script

_REF = __import__("re").compile(r"\$\{([^}]+)\}")


def _module_file(root: Path, module: str) -> Path:
    if module.endswith(".py") and (root / module).is_file():
        return root / module  # an operation named after its script (`op.py:`), as Guild runs it
    rel = Path(*module.split("."))
    for cand in (root / rel.with_suffix(".py"), root / rel / "__main__.py"):
        if cand.is_file():
            return cand
    return root / rel.with_suffix(".py")


def _main_words(op) -> list[str]:
    main = op.data.get("main")
    if main is None and not op.data.get("exec") and not op.data.get("steps"):
        main = op.name  # Guild: main defaults to the operation's name
    if main is None:
        return []
    try:
        return shlex.split(str(main))
    except ValueError as e:
        raise UsageError(f"guild.yml: invalid main of operation {op.display_name}: {e}") from None


def _import_list(op) -> Any:
    """``flags-import``: "all", a list of names, or None (only flags named in guild.yml)."""
    v = op.data.get("flags-import")
    if v is True or v == "all":
        return "all"
    if v is False or v in ("no", "off") or v == []:
        return []
    if v is None:
        return None
    return [v] if isinstance(v, str) else list(v)


def script_of(op) -> Script:
    """The :class:`Script` that runs guild.yml operation ``op``."""
    op.refuse_unsupported()
    gdefs = op.flagdefs()
    dest = op.data.get("flags-dest")
    steps = op.data.get("steps")
    options: dict[str, Any] = {
        "description": op.description,
        "sourcecode": False if steps else op.sourcecode,
        "output-scalars": op.data.get("output-scalars"),
        "label": op.data.get("label"),
        "tags": opdef.tags_of(op.data.get("tags")),
        "env": op.data.get("env") or {},
        "requires": op.data.get("requires") or [],
        "steps": steps,
        "exec": op.data.get("exec"),
        "main": _main_words(op),
    }
    script = _script_of(op, gdefs, dest, steps, options)
    reqs = opdef.requirements(options["requires"], op.guildfile.path.name, op.display_name,
                              op.model_data.get("resources") or {})
    script.flags.update(opdef.dep_flags(reqs))  # operation:prepare=ID chooses the upstream run
    return script


def _script_of(op, gdefs: dict, dest: str | None, steps: Any, options: dict) -> Script:

    root = op.source_root
    if steps:
        return Script(path=op.guildfile.path, language="guildfile", flags=gdefs, options=options,
                      flags_dest="args", op=op)
    if options["exec"]:
        return Script(path=op.guildfile.path, language="guildfile", flags=gdefs, options=options,
                      flags_dest=dest or "args", op=op)
    words = options["main"]
    if words[:1] == ["guild.pass"]:  # an operation that only resolves its dependencies
        return Script(path=op.guildfile.path, language="guildfile", flags=gdefs, options=options,
                      flags_dest=dest or "args", op=op)
    path = _module_file(root, words[0])
    if not path.is_file() and "-" in words[0]:
        path = _module_file(root, words[0].replace("-", "_"))  # Guild: op `json-decodable` runs json_decodable.py
    if not path.is_file():
        raise UsageError(f"guild.yml operation {op.display_name}: main module '{words[0]}' not found "
                         f"({path.relative_to(root) if path.is_relative_to(root) else path})")
    imported: dict[str, FlagDef] = {}
    found_dest = "globals"
    which = _import_list(op)
    if which != [] or dest is None:
        py = lang.entry("python").inspect(path)
        found_dest = py.flags_dest
        imported = py.flags
        if dest in (None, "args:click") and len(words) > 1 and "click" in path.read_text(errors="replace"):
            from ..lang.python import click_flags

            clicked = click_flags(__import__("ast").parse(path.read_text()), words[-1])
            if clicked is not None:  # `main: cli prepare-data`: that sub-command's options
                found_dest, imported = "args", clicked
    if dest == "args:click":
        dest = "args"
    if dest is None:
        dest = found_dest
    dest = _dest(op, dest, root)
    if dest.startswith("global:"):
        imported = {k: FlagDef.from_value(k, v) for k, v in _dict_global(path, dest[7:], op).items()}
    if dest.startswith("config:"):
        from ..flags import dest as fdest

        cfg = root / fdest.clean(dest)
        if not cfg.is_file():
            raise UsageError(f"guild.yml operation {op.display_name}: flags-dest file {fdest.clean(dest)} not found")
        imported = {k: FlagDef.from_value(k, v) for k, v in fdest.read_flags(cfg).items()}
    skip = set(op.data.get("flags-import-skip") or [])
    if which == "all":
        chosen = {n: fd for n, fd in imported.items() if n not in skip}
    elif which is None:
        chosen = {n: fd for n, fd in imported.items() if n in gdefs}
    else:
        chosen = {n: fd for n, fd in imported.items() if n in which and n not in skip}
    flags = {n: replace(fd, extra=dict(fd.extra)) for n, fd in chosen.items()}
    for name, g in gdefs.items():
        base = flags.get(name)
        arg = str(g.extra.get("guild-arg-name") or "").lstrip("-")
        if base is None and arg and arg != name and arg in flags and arg not in gdefs:
            base = flags.pop(arg)  # `f_str2: {arg-name: f_str}` takes the imported f_str's place, as in Guild
        flags[name] = _overlay(base, g, op.data.get("flags") or {})
    return Script(path=path, language="guildfile", flags=flags, options=options, flags_dest=dest, op=op)


def _dest(op, dest: str, root: Path) -> str:
    if dest in ("args", "globals"):
        return dest
    if dest.startswith("config:") or dest.startswith("global:") and dest[7:].isidentifier():
        return dest
    if dest.startswith(("global:", "dict:", "namespace:")) or dest in ("args:click", "none"):
        raise UsageError(f"guild.yml operation {op.display_name}: flags-dest '{dest}' is not supported "
                         "by runyard (use args, globals, global:NAME or config:FILE)")
    raise UsageError(f"guild.yml operation {op.display_name}: unknown flags-dest '{dest}'")


def _overlay(imported: FlagDef | None, g: FlagDef, raw: dict) -> FlagDef:
    """A guild.yml flag over the one imported from the script: attributes given in guild.yml win."""
    if imported is None:
        return g
    spec = raw.get(g.name)
    given = set(spec) if isinstance(spec, dict) else {"default"}
    out = replace(imported, name=g.name, extra=dict(imported.extra))
    for attr in ("default", "type", "description", "min", "max", "choices", "required"):
        # A default without a type makes the flag untyped, as in Guild (`gamma: 10` takes 0.5).
        if attr in given or (attr == "type" and "default" in given):
            setattr(out, attr, getattr(g, attr))
    out.extra.update({k: v for k, v in g.extra.items()})
    return out


# ---------------------------------------------------------------------------
# The language contract (runyard.lang.Language)


def inspect(path: Path) -> Script:
    """The default operation of the guild.yml at ``path``."""
    from . import load

    return load(path).script(None)


def check_values(script: Script, values: dict) -> None:
    """``type: existing-path`` flags must name something that exists; a pipeline's steps must name
    operations of the guild.yml (both checked before the run is made)."""
    for name, fd in script.flags.items():
        v = values.get(name)
        if fd.extra.get("guild-existing-path") and v not in (None, "") and not Path(str(v)).exists():
            raise UsageError(f"invalid value for flag '{name}': path {v!r} does not exist")
    steps = script.options.get("steps")
    if not steps:
        return
    if not isinstance(steps, list):
        raise UsageError(f"guild.yml: steps of {script.name} must be a list")
    model = script.op.model
    for raw in steps:
        step = opdef.parse_step(raw, script.name)
        spec = step["op"] if ":" in step["op"] or not model else f"{model}:{step['op']}"
        script.op.guildfile.op(spec)


def apply_flags(script: Script, run_dir: Path, values: dict) -> None:
    """globals: rewrite the run's copy of the module; config:FILE: rewrite the run's copy of FILE."""

    if passes(script) or script.options.get("steps") or script.options.get("exec") \
            or script.flags_dest.startswith("config:"):  # config:FILE is generated (launch/deps.py)
        return
    dest = script.flags_dest
    if dest == "args":
        return
    run_dir = run_dir / _source_dest(script)  # `sourcecode: {dest: src}`: the module's copy is under src/
    # A flag's `arg-name` names the global it sets (`f_str2: {arg-name: f_str}` sets f_str)
    values = {str(script.flags[k].extra.get("guild-arg-name") or k): v for k, v in values.items() if k in script.flags}
    if dest.startswith("global:"):
        target = run_dir / script.relpath
        text = target.read_text(encoding="utf-8")
        new = _rewrite_dict(text, dest[7:], values)
        if new != text:
            target.write_text(new, encoding="utf-8")
        return
    py = Script(path=script.path, language="python", flags=script.flags, options={},
                flags_dest="globals" if dest == "globals" else _clean(dest), op=script.op)
    lang.entry("python").apply_flags(py, run_dir, values)


def _source_dest(script: Script) -> str:
    return opdef.sourcecode_dest(script.options.get("sourcecode"))


def passes(script: Script) -> bool:
    """True for ``main: guild.pass``: the operation runs nothing (its dependencies are its work)."""
    return (script.options.get("main") or [None])[0] == "guild.pass"


def _clean(dest: str) -> str:
    from ..flags import dest as fdest

    return fdest.clean(dest)


def _dict_nodes(tree, name: str):
    """(dotted key, value node) of every scalar in the module-level dict literal ``name``."""
    import ast

    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and stmt.targets[0].id == name and isinstance(stmt.value, ast.Dict):
            out = []

            def walk(d, prefix):
                for k, v in zip(d.keys, d.values):
                    if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                        continue
                    if isinstance(v, ast.Dict):
                        walk(v, prefix + k.value + ".")
                    else:
                        try:
                            out.append((prefix + k.value, v, ast.literal_eval(v)))
                        except ValueError:
                            pass
            walk(stmt.value, "")
            return out
    return None


def _dict_literals(tree, name: str) -> list:
    """The module-level dict literal assigned to ``name`` (a list of at most one)."""
    import ast

    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and stmt.targets[0].id == name and isinstance(stmt.value, ast.Dict):
            return [stmt.value]
    return []


def _dict_global(path: Path, name: str, op) -> dict:
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, ValueError, OSError) as e:
        raise UsageError(f"cannot read flags of {path.name}: {e}") from None
    nodes = _dict_nodes(tree, name)
    if nodes is None:
        raise UsageError(f"guild.yml operation {op.display_name}: flags-dest global:{name} needs a "
                         f"module-level dict {name} = {{...}} in {path.name}")
    return {k: v for k, _, v in nodes if isinstance(v, (bool, int, float, str))}


def _rewrite_dict(text: str, name: str, values: dict) -> str:
    """``text`` with the literals of dict ``name``'s keys in ``values`` replaced (line count kept)."""
    import ast

    lines = text.splitlines(keepends=True)
    edits = []
    tree = ast.parse(text)
    nodes = _dict_nodes(tree, name) or []
    for key, node, old in nodes:
        if key in values and (values[key] != old or type(values[key]) is not type(old)):
            if node.lineno != node.end_lineno:
                continue
            edits.append((node.lineno, node.col_offset, node.end_col_offset, repr(values[key])))
    # A flag the literal lacks is added to it, as Guild sets every flag in the dict (`a.b` nested)
    top = {k.value for d in _dict_literals(tree, name) for k in d.keys if isinstance(k, ast.Constant)}
    missing: dict = {}
    for key, value in sorted(values.items()):
        parts = key.split(".")
        if parts[0] in top or any(k == key for k, _, _ in nodes):
            continue
        at = missing
        for part in parts[:-1]:
            at = at.setdefault(part, {})
            if not isinstance(at, dict):
                break
        else:
            at[parts[-1]] = value
    for d in _dict_literals(tree, name)[:1]:
        if missing:
            line = lines[d.end_lineno - 1].encode("utf-8")
            close = d.end_col_offset - 1
            before = b"".join(x.encode("utf-8") for x in lines[d.lineno - 1:d.end_lineno - 1]) + line[:close]
            sep = ", " if d.keys and not before.rstrip().endswith(b",") else ""
            edits.append((d.end_lineno, close, close, sep + repr(missing)[1:-1]))
    for lineno, start, end, new in sorted(edits, reverse=True):
        b = lines[lineno - 1].encode("utf-8")
        lines[lineno - 1] = (b[:start] + new.encode("utf-8") + b[end:]).decode("utf-8")
    return "".join(lines)


def flag_args(script: Script, values: dict, skip: set[str] = frozenset()) -> list[str]:
    """``--name value`` per flag, sorted by name, as Guild's ``args`` flags-dest passes them."""
    out: list[str] = []
    for name in sorted(values):
        if name in skip or name.startswith("operation:"):
            continue
        fd = script.flags.get(name)
        extra = fd.extra if fd else {}
        value = values[name]
        if value is None or extra.get("guild-arg-skip"):
            continue
        opt = extra.get("guild-arg-name")
        opt = "--" + str(opt) if opt else extra.get("arg-name") or "--" + name
        if "guild-arg-switch" in extra or "arg-switch" in extra:
            want = extra.get("guild-arg-switch", extra.get("arg-switch"))
            if value == want:
                out.append(opt)
            continue
        if "arg-negate" in extra:
            out.append(opt if value else extra["arg-negate"])
            continue
        if extra.get("guild-arg-split") or extra.get("arg-split"):
            items = value if isinstance(value, (list, tuple)) else shlex.split(str(value))
            out.append(opt)
            out.extend(_arg(v) for v in items)
            continue
        out.extend([opt, _arg(value)])
    return out


def _arg(value: Any) -> str:
    """Guild's encoding of an ``args`` value: True -> 1, False -> '' (so ``type=bool`` reads it)."""
    if value is True:
        return "1"
    if value is False:
        return ""
    return str(value)


def _fill(text: str, values: dict, extra: dict[str, str]) -> str:
    """``${name}`` replaced by ``extra[name]`` or the flag's value."""
    from ..flags import format_value

    def sub(m):
        key = m.group(1)
        if key in extra:
            return extra[key]
        if key in values:
            v = values[key]
            return "" if v is None else (str(v) if not isinstance(v, bool) else format_value(v))
        return m.group(0)

    return _REF.sub(sub, text)


def referenced(script: Script) -> set[str]:
    """Flags named by ``${flag}`` in ``main`` or ``exec`` (not passed again as ``--flag``)."""
    text = " ".join(script.options.get("main") or []) + " " + str(script.options.get("exec") or "")
    return set(_REF.findall(text))


def command(script: Script, run_dir: Path, values: dict) -> tuple[list[str], dict[str, str]]:
    """The operation's argv and environment. Its Python is the user's, chosen as for a plain
    script (``--python``, the active or the project's virtualenv: :mod:`runyard.lang.runtime`);
    ``steps`` run on runyard's own, since they are runyard's code."""
    chosen = {k: script.options[k] for k in ("python", "_interpreter_from") if k in script.options}
    py = Script(path=script.path, language="python", flags={}, options=chosen, flags_dest="globals", op=script.op)
    (python, *_), env = lang.entry("python").command(py, run_dir, {})
    opts = script.options
    env.update(opdef.env_of(opts, values))
    for name, fd in script.flags.items():  # env-name: the flag also under a name of its own
        if fd.extra.get("guild-env-name") and values.get(name) is not None:
            v = values[name]
            env[str(fd.extra["guild-env-name"])] = "1" if v is True else "" if v is False else str(v)
    if opts.get("steps"):
        return [sys.executable, "-m", "runyard.launch.steps"], env
    if passes(script):
        return [sys.executable, "-c", ""], env
    args = flag_args(script, values, referenced(script)) if script.flags_dest == "args" else []
    if opts.get("exec"):
        try:  # split first, then fill each word: a flag value is one argument, whatever it holds
            words = shlex.split(str(opts["exec"]))
        except ValueError as e:
            raise UsageError(f"guild.yml: invalid exec of operation {script.name}: {e}") from None
        exe = {"python_exe": python, "guild_python_exe": sys.executable, "main_args": ""}
        argv = []
        for w in words:
            if w == "${flag_args}":
                argv.extend(args)
            else:
                argv.append(_fill(w, values, {**exe, "flag_args": " ".join(args)}))
        return argv, env
    words = [_fill(w, values, {}) for w in opts["main"]]
    module, main_args = words[0], words[1:]
    rel = Path(_source_dest(script)) / script.relpath
    if ("." not in module or module.endswith(".py")) and rel.name != "__main__.py":
        argv = [python, rel.as_posix()]  # `python train.py`: the run dir is sys.path[0]
    else:
        argv = [python, "-m", module]
    return argv + main_args + args, env


lang.register("guildfile", sys.modules[__name__])  # the `guildfile` operation source
