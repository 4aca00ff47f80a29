"""Python scripts: which flags a script declares, how a run's copy gets new
values, and what command runs it.

Flags are found statically (``ast``), never by running the user's code:

- *globals* (the default): every module-level ``NAME = <literal>`` of a scalar
  literal (int, float, str, bool, optionally signed; also ``NAME: int = 3``).
  The first such assignment of a name wins; ``_private`` names are skipped.
  A run's values are written by rewriting those literal tokens in the run
  directory's copy of the script (line count unchanged).
- *args*: a script that imports ``argparse`` and calls ``add_argument`` gets its
  flags from the parser's options; values travel as ``--name value``.
- *a file* named by the front matter's ``flags-dest``: ``./flags.py`` (its
  literals, rewritten like globals), ``./flags.yml`` or ``./flags.json``
  (its keys, see :mod:`runyard.flags.dest`).

The command also makes matplotlib headless: ``plt.show()`` saves every open
figure as ``plots/Figure001.png``, ``plots/Figure002.png``... in the run
directory (see ``pyhooks/runyard_mpl_backend.py``).
"""

from __future__ import annotations

import ast
import io
import math
import os
import shlex
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..flags import FlagDef, type_of
from ..flags.annotations import annotation_above
from . import Script

SUFFIXES = (".py",)  # the language registry (runyard.lang) finds this module by this line
HOOKS_DIR = Path(__file__).with_name("pyhooks")
MPL_BACKEND = "module://runyard_mpl_backend"

_SCALARS = (bool, int, float, str)
_ANN_TYPES = {"int": "int", "float": "float", "str": "string", "bool": "boolean"}


# ---------------------------------------------------------------------------
# Reading source


def _display(path: Path) -> str:
    """A path as the user knows it: relative to the cwd when inside it."""
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _read_source(path: Path) -> tuple[str, str]:
    """(text, encoding) of a Python file; newlines kept as they are."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {_display(path)}: {e.strerror}") from None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding), encoding
    except (SyntaxError, LookupError, UnicodeDecodeError):
        raise UsageError(f"cannot read flags of {_display(path)}: not valid text in its encoding") from None


def _parse(text: str, source: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as e:
        raise UsageError(f"cannot read flags of {source}: {e.msg} (line {e.lineno})") from None
    except ValueError as e:  # e.g. null bytes
        raise UsageError(f"cannot read flags of {source}: {e}") from None


def _lines(text: str) -> list[str]:
    """Lines as ``ast`` counts them (\\n, \\r\\n, \\r), ends kept."""
    return io.StringIO(text, newline="").readlines()


# ---------------------------------------------------------------------------
# Global literals


@dataclass
class _Literal:
    """A module-level ``name = <scalar literal>`` and where its value sits."""

    name: str
    value: Any
    ann_type: str | None  # from ``name: int = ...``
    lineno: int  # 1-based line of the statement
    start: tuple[int, int]  # (1-based line, utf-8 byte column) of the value
    end: tuple[int, int]


def _scalar(node: ast.expr) -> tuple[bool, Any]:
    """(True, value) if ``node`` is a scalar literal, optionally signed."""
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, _SCALARS):
            return True, v
        return False, None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        inner = node.operand
        if isinstance(inner, ast.Constant) and type(inner.value) in (int, float):
            return True, -inner.value if isinstance(node.op, ast.USub) else inner.value
    return False, None


def _literals(tree: ast.Module) -> dict[str, _Literal]:
    """First scalar-literal assignment of each public module-level name, in order."""
    found: dict[str, _Literal] = {}
    for stmt in tree.body:
        ann_type = None
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                continue
            name = stmt.targets[0].id
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is None or not isinstance(stmt.target, ast.Name):
                continue
            name = stmt.target.id
            if isinstance(stmt.annotation, ast.Name):
                ann_type = _ANN_TYPES.get(stmt.annotation.id)
        else:
            continue
        if name.startswith("_") or name in found:
            continue
        ok, value = _scalar(stmt.value)
        if not ok:
            continue
        v = stmt.value
        found[name] = _Literal(
            name, value, ann_type, stmt.lineno,
            (v.lineno, v.col_offset), (v.end_lineno or v.lineno, v.end_col_offset or 0),
        )
    return found


def _global_flags(text: str, source: str, tree: ast.Module | None = None) -> dict[str, FlagDef]:
    if tree is None:
        tree = _parse(text, source)
    lits = _literals(tree)
    has_anno = "#|" in text
    lines = _lines(text) if has_anno else []
    flags: dict[str, FlagDef] = {}
    annotated_lines: set[int] = set()
    for lit in lits.values():
        ann = None
        if has_anno and lit.lineno not in annotated_lines:
            ann = annotation_above(lines, lit.lineno - 1, source)
            annotated_lines.add(lit.lineno)
        fd = FlagDef.from_value(lit.name, lit.value)
        if lit.ann_type and not (ann and "type" in ann):
            fd.type = lit.ann_type
        if ann:
            fd.annotate(ann)
        flags[lit.name] = fd
    return flags


_KIND = {ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict", ast.Set: "a set"}


def _not_flags(tree: ast.Module, flags: dict[str, FlagDef]) -> dict[str, str]:
    """Module-level names that are no flag, and why (``hidden_sizes = [64, 32]``: a list)."""
    why: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, value = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None and isinstance(stmt.target, ast.Name):
            name, value = stmt.target.id, stmt.value
        else:
            continue
        if name in flags or name in why:
            continue
        if name.startswith("_"):
            why[name] = "a private name (starting with _)"
        else:
            kind = _KIND.get(type(value), "computed, not a literal")
            why[name] = f"its value at line {stmt.lineno} is {kind}: only a single number, string or boolean is a flag"
    return why


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (so 1 != 1.0 != True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


_WRITABLE = (bool, int, float, str, type(None), list, tuple, dict)


def _literal_text(name: str, value: Any, ascii_only: bool = False) -> str:
    """Python source for a value: ``repr`` (``ascii`` if asked), except non-finite floats."""
    if not isinstance(value, _WRITABLE):
        raise UsageError(f"cannot write flag '{name}' into the script: {value!r} is not a plain value")
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "float('nan')"
        return "float('inf')" if value > 0 else "-float('inf')"
    return ascii(value) if ascii_only else repr(value)


def rewrite(source: str, values: dict, *, name: str = "<script>", ascii_only: bool = False) -> str:
    """``source`` with the literal of every global flag named in ``values`` replaced.

    Only the literal tokens change: comments, other statements on the line and
    the line count are kept. Values equal to the literal's current value, and
    names that are not flags of ``source``, are left alone. A literal that spans
    several lines becomes ``(<new>`` + the same number of newlines + ``)``.
    ``name`` names the file in the error raised for invalid syntax;
    ``ascii_only`` escapes non-ASCII characters in the new literals.
    """
    if not values:
        return source
    tree = _parse(source, name)
    lits = _literals(tree)
    edits = []
    for flag, value in values.items():
        lit = lits.get(flag)
        if lit is None or _same(value, lit.value):
            continue
        new = _literal_text(flag, value, ascii_only)
        extra = lit.end[0] - lit.start[0]
        if extra:
            new = "(" + new + "\n" * extra + ")"
        edits.append((lit.start, lit.end, new))
    if not edits:
        return source
    lines = _lines(source)
    # Apply from the end so earlier positions stay valid.
    for (sl, sc), (el, ec), new in sorted(edits, reverse=True):
        first = lines[sl - 1].encode("utf-8")
        last = lines[el - 1].encode("utf-8")
        head = first[:sc].decode("utf-8")
        tail = last[ec:].decode("utf-8")
        lines[sl - 1 : el] = _lines(head + new + tail)
    return "".join(lines)


def _rewrite_file(path: Path, values: dict) -> None:
    text, encoding = _read_source(path)
    new = rewrite(text, values, name=path.name)
    if new == text:
        return
    try:
        data = new.encode(encoding)
    except UnicodeEncodeError:  # a file in a legacy encoding: escape the new literals
        data = rewrite(text, values, name=path.name, ascii_only=True).encode(encoding)
    path.write_bytes(data)


# ---------------------------------------------------------------------------
# argparse


def _imports_argparse(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name == "argparse" for a in node.names):
                return True
        elif isinstance(node, ast.ImportFrom) and node.module == "argparse":
            return True
    return False


def _add_argument_calls(tree: ast.Module) -> list[ast.Call]:
    calls = [
        n for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "add_argument"
    ]
    return sorted(calls, key=lambda c: (c.lineno, c.col_offset))


def _const(node: ast.expr | None) -> tuple[bool, Any]:
    """(True, value) for a literal expression (lists, tuples, signed numbers...)."""
    if node is None:
        return False, None
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return _dotted(node.value) + "." + node.attr
    return ""


_SKIP_ACTIONS = ("store_const", "append", "append_const", "extend", "count", "help", "version")


def _argparse_flag(call: ast.Call) -> FlagDef | None:
    """The flag of one ``add_argument(...)`` call, or None if it is not one."""
    opts = []
    for arg in call.args:
        ok, v = _const(arg)
        if ok and isinstance(v, str):
            opts.append(v)
    if not opts or not all(o.startswith("-") for o in opts):
        return None  # positional arguments can't be given as --name value
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    opt = next((o for o in opts if o.startswith("--")), opts[0])
    ok, dest = _const(kw.get("dest"))
    name = dest if ok and isinstance(dest, str) else opt.lstrip("-").replace("-", "_")
    if not name:
        return None

    action_node = kw.get("action")
    action = None
    if action_node is not None:
        ok, action = _const(action_node)
        if not ok:
            action = _dotted(action_node).rsplit(".", 1)[-1]  # BooleanOptionalAction
    if action in _SKIP_ACTIONS:
        return None

    extra: dict[str, Any] = {"arg-name": opt}
    has_default, default = _const(kw.get("default"))
    if "default" in kw and not has_default:
        default = None  # computed at run time: unknown here, not passed unless set
    ftype = None
    type_node = kw.get("type")
    type_name = _dotted(type_node) if type_node is not None else ""
    if action == "store_true":
        ftype, extra["arg-switch"] = "boolean", True
        if not has_default:
            default = False
    elif action == "store_false":
        ftype, extra["arg-switch"] = "boolean", False
        if not has_default:
            default = True
    elif action == "BooleanOptionalAction":
        ftype, extra["arg-negate"] = "boolean", "--no-" + opt.lstrip("-")
    elif action not in (None, "store"):
        return None  # a custom action: we can't know what it takes
    else:
        ftype = {"int": "int", "float": "float", "str": "string", "bool": "boolean"}.get(type_name)
        if type_name == "bool":
            extra["arg-type"] = "bool"
        if isinstance(default, str) and ftype in ("int", "float"):
            try:
                default = int(default) if ftype == "int" else float(default)
            except ValueError:
                pass
        nargs_ok, nargs = _const(kw.get("nargs"))
        if nargs_ok and (nargs in ("+", "*") or (isinstance(nargs, int) and nargs > 1)):
            extra["arg-split"] = True
            if ftype:
                extra["item-type"] = ftype
            ftype = None
            if isinstance(default, (list, tuple)):
                default = " ".join(str(v) for v in default)
    if isinstance(default, (list, tuple, dict, set, bytes, complex)):
        default = None
    if ftype is None and default is not None:
        ftype = type_of(default)

    fd = FlagDef(name=name, default=default, type=ftype, extra=extra)
    ok, help_ = _const(kw.get("help"))
    if ok and isinstance(help_, str):
        fd.description = help_.strip()
    ok, choices = _const(kw.get("choices"))
    if ok and isinstance(choices, (list, tuple)):
        fd.choices = list(choices)
    ok, required = _const(kw.get("required"))
    if ok and required:
        fd.required = True
    return fd


def _set_defaults(tree: ast.Module) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "set_defaults":
            for k in n.keywords:
                ok, v = _const(k.value)
                if k.arg and ok:
                    out[k.arg] = v
    return out


def _argparse_flags(tree: ast.Module, text: str, source: str) -> dict[str, FlagDef]:
    has_anno = "#|" in text
    lines = _lines(text) if has_anno else []
    flags: dict[str, FlagDef] = {}
    for call in _add_argument_calls(tree):
        fd = _argparse_flag(call)
        if fd is None or fd.name in flags:
            continue
        if has_anno:
            ann = annotation_above(lines, call.lineno - 1, source)
            if ann:
                fd.annotate(ann)
        flags[fd.name] = fd
    for name, v in _set_defaults(tree).items():
        if name in flags and not isinstance(v, (list, tuple, dict)):
            flags[name].default = v
    return flags


def _arg_text(value: Any, fd: FlagDef | None) -> str:
    if isinstance(value, bool):
        if fd is not None and fd.extra.get("arg-type") == "bool":
            return "1" if value else ""  # bool("") is False, bool("False") is not
        return str(value)
    return str(value)


def _flag_args(script: Script, values: dict) -> list[str]:
    """``--name value`` arguments for an argparse script."""
    args: list[str] = []
    names = [n for n in script.flags if n in values] + [n for n in values if n not in script.flags]
    for name in names:
        value = values[name]
        fd = script.flags.get(name)
        extra = fd.extra if fd else {}
        opt = extra.get("arg-name") or "--" + name
        if value is None:
            continue
        if "arg-switch" in extra:
            if bool(value) == extra["arg-switch"]:
                args.append(opt)
            continue
        if "arg-negate" in extra:
            args.append(opt if value else extra["arg-negate"])
            continue
        if extra.get("arg-split"):
            items = value if isinstance(value, (list, tuple)) else shlex.split(str(value))
            args.append(opt)
            args.extend(_arg_text(v, fd) for v in items)
            continue
        text = _arg_text(value, fd)
        if text.startswith("-"):
            args.append(f"{opt}={text}")  # so argparse doesn't read it as an option
        else:
            args.extend([opt, text])
    return args


# ---------------------------------------------------------------------------
# The language contract


def _dest_flags(script_path: Path, project_dir: Path, dest: str) -> tuple[str, dict[str, FlagDef]]:
    """(project-relative dest, flags) for a file ``flags-dest``."""
    from ..flags import dest as fdest

    rel = fdest.clean(dest)
    suffix = Path(rel).suffix.lower()
    if suffix != ".py" and not fdest.is_config(rel):
        raise UsageError(
            f"unsupported flags-dest '{dest}' in {_display(script_path)}: "
            "use globals, args, or a .py, .yml or .json file"
        )
    if Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise UsageError(f"flags-dest '{dest}' in {_display(script_path)} must be a file inside the project")
    path = project_dir / rel
    if not path.exists() and (script_path.parent / rel).exists():
        path = script_path.parent / rel
        try:
            rel = path.relative_to(project_dir).as_posix()
        except ValueError:
            pass
    if not path.is_file():
        raise UsageError(f"flags-dest file {rel} of {_display(script_path)} not found")
    if suffix == ".py":
        text, _ = _read_source(path)
        return rel, _global_flags(text, _display(path))
    return rel, {k: FlagDef.from_value(k, v) for k, v in fdest.read_flags(path).items()}


def inspect(path: Path) -> Script:
    """Inspect a Python script: its flags (never executing it) and front matter."""
    path = Path(path).absolute()
    source = _display(path)
    text, _ = _read_source(path)
    tree = _parse(text, source)
    script = Script(path=path, language="python")
    if "#|" in text:
        from ..flags.annotations import front_matter

        options = front_matter(_lines(text), source)
        script.options = options
    dest = script.options.get("flags-dest")
    if dest is not None and not isinstance(dest, str):
        raise UsageError(f"invalid flags-dest in {source}: expected a string")
    if dest is not None and dest not in ("globals", "args"):
        from ..flags.dest import clean

        if (script.project_dir / clean(dest)).absolute() == path:
            dest = "globals"  # the script itself
    if dest in (None, "globals"):
        if dest is None and _imports_argparse(tree) and _add_argument_calls(tree):
            script.flags_dest = "args"
            script.flags = _argparse_flags(tree, text, source)
        else:
            script.flags = _global_flags(text, source, tree)
            script.not_flags = _not_flags(tree, script.flags)
    elif dest == "args":
        script.flags_dest = "args"
        script.flags = _argparse_flags(tree, text, source)
    else:
        script.flags_dest, script.flags = _dest_flags(path, script.project_dir, dest)
    if not script.flags:
        config = _config_file_named(tree)
        if config:
            script.hint = f"its code opens {config}: to make its keys flags, add #| flags-dest: config:{config}"
    return script


def _config_file_named(tree: ast.Module) -> str | None:
    """The first ``.yml``/``.yaml``/``.json`` file named by a string in the code, if any."""
    from ..flags.dest import CONFIG_SUFFIXES

    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" not in node.value:
            v = node.value.strip()
            if v.lower().endswith(CONFIG_SUFFIXES) and len(v) > 5 and " " not in v:
                return v[2:] if v.startswith("./") else v
    return None


def apply_flags(script: Script, run_dir: Path, values: dict) -> None:
    """Write ``values`` into the run directory's copy of the script or its flags-dest file."""
    dest = script.flags_dest
    if dest == "args" or not values:
        return
    run_dir = Path(run_dir)
    if dest == "globals":
        target = run_dir / script.relpath
        if not target.is_file():
            raise UsageError(f"{script.relpath} is missing from the run directory {run_dir}")
        _rewrite_file(target, values)
        return
    if Path(dest).is_absolute() or ".." in Path(dest).parts:
        raise UsageError(f"flags-dest '{dest}' must be a file inside the project")
    target = run_dir / dest
    if not target.exists():
        src = script.project_dir / dest
        if not src.is_file():
            raise UsageError(f"flags-dest file {dest} not found")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(src.read_bytes())
    if target.suffix.lower() == ".py":
        _rewrite_file(target, values)
        return
    from ..flags import dest as fdest

    current = fdest.read_flags(target)
    if any(k not in current or not _same(v, current[k]) for k, v in values.items()):
        fdest.write_flags(target, values)


def command(script: Script, run_dir: Path, values: dict) -> tuple[list[str], dict[str, str]]:
    """``[python, script, args...]`` and the environment to add: headless matplotlib, and
    output kept live by a flushing thread (``pyhooks/sitecustomize.py``) rather than ``-u``,
    which would make print-heavy scripts several times slower. The interpreter is the user's
    (an active or the project's virtualenv, ``--python``: see :mod:`runyard.lang.runtime`)."""
    from .runtime import python

    interp = python(script)
    argv = [interp.path, script.relpath]
    if script.flags_dest == "args":
        argv += _flag_args(script, values)
    pythonpath = os.environ.get("PYTHONPATH")
    env = {
        "MPLBACKEND": MPL_BACKEND,
        "RUNYARD_PLOTS_DIR": str(Path(run_dir).absolute() / "plots"),
        "PYTHONPATH": str(HOOKS_DIR) + (os.pathsep + pythonpath if pythonpath else ""),
        **interp.env,
    }
    return argv, env
