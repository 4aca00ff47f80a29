"""guild.yml projects: the models, operations and flags a Guild AI 0.9 project declares.

Both of Guild's formats are read:

- a mapping at the top level: an anonymous model whose keys are operations
  (``train: {main: train, flags: {lr: 0.1}}``);
- a list of items: ``- model: NAME`` (with ``operations:``, ``extends``, ``params``,
  ``sourcecode``, ``operation-defaults``), ``- config: NAME`` (blocks for ``extends`` and
  ``$include``) and ``- include: FILE``.

:meth:`Guildfile.script` turns ``op`` / ``model:op`` into the :class:`runyard.lang.Script`
that :mod:`runyard.launch.runner` prepares and supervises like any script (see
:mod:`runyard.guildfile.op`). Keys runyard does not support are named in one line on
stderr (or, where ignoring them would run something else, refused in one line).
"""

from __future__ import annotations

import copy
import hashlib
import re

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import opdef
from ..errors import UsageError
from ..flags import FlagDef

NAMES = ("guild.yml",)

FLAG_KEYS = {
    "default", "description", "type", "choices", "min", "max", "required", "arg-name", "arg-switch",
    "arg-skip", "arg-split", "null-label", "env-name", "allow-other", "distribution",
}
_TYPES = {"string": "string", "int": "int", "float": "float", "number": "number", "boolean": "boolean",
          "bool": "boolean", "path": "string", "existing-path": "string", "auto": None}

def _warn(msg: str) -> None:
    opdef.warn(msg)


def find(cwd: Path) -> Path | None:
    """The project's guild.yml in ``cwd`` (Guild reads the one in the current directory)."""
    for name in NAMES:
        p = Path(cwd) / name
        if p.is_file():
            return p
    return None


MAX_BYTES = 1024 * 1024  # a guild.yml (or a file it includes) larger than this is refused
MAX_VALUES = 200_000  # values a file holds once its aliases are expanded (a billion laughs is refused)
MAX_DEPTH = 64  # nesting of mappings and lists
MAX_EXPANSIONS = 10_000  # extends and $include resolutions, per load
MAX_INCLUDES = 100  # files read through `include`, per load


class _Budget:
    """Counts the work a guild.yml asks for (includes, extends, ``$include``): a file whose
    structure multiplies it (diamonds, 40 levels deep) is refused in one line."""

    def __init__(self, path: Path, limit: int = MAX_EXPANSIONS):
        self.path, self.n, self.limit = path, 0, limit

    def spend(self, what: str) -> None:
        self.n += 1
        if self.n > self.limit:
            raise UsageError(f"{self.path.name}: its {what} expand to more than {self.limit} steps "
                             "(a diamond of includes or extends?); simplify it")


def _read_yaml(path: Path) -> Any:
    """The YAML in ``path``, checked: size, UTF-8, nesting depth, aliases expanded."""
    import yaml

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    if len(data) > MAX_BYTES:
        raise UsageError(f"{path.name} is larger than {MAX_BYTES // 1024} KiB; runyard reads no bigger guild.yml")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path.name} is not UTF-8 text (byte {e.start})") from None
    if _bracket_depth(text) > MAX_DEPTH:
        raise UsageError(f"{path.name} nests deeper than runyard reads (at most {MAX_DEPTH} levels)")
    try:
        loaded = yaml.load(text, Loader=_loader())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"invalid YAML in {path}{where}") from None
    except (RecursionError, MemoryError):
        raise UsageError(f"{path.name} nests deeper than runyard reads (at most {MAX_DEPTH} levels)") from None
    _check_shape(loaded, path)
    return loaded


_LOADER = None


def _loader():
    """The safe loader, reading numbers as Guild reads a guild.yml: an exponent needs no dot and
    no sign (`123e2` and `1.5e3` are floats, as `1.5e+3` is in plain YAML 1.1)."""
    global _LOADER
    if _LOADER is None:
        import re

        import yaml

        class GuildfileLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            pass

        GuildfileLoader.add_implicit_resolver(
            "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
            list("-+0123456789"))
        _LOADER = GuildfileLoader
    return _LOADER


def _bracket_depth(text: str) -> int:
    """How deep ``[`` and ``{`` nest in ``text`` (quotes and comments not told apart: an upper
    bound, read before the YAML parser recurses that deep)."""
    if "[" not in text and "{" not in text:
        return 0
    depth = deepest = 0
    for c in text:
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(depth - 1, 0)
    return deepest


def _check_shape(data: Any, path: Path) -> None:
    """Refuse data nested deeper than MAX_DEPTH or holding more than MAX_VALUES values with its
    aliases expanded (walked iteratively, stopping at the cap: fast whatever the file holds)."""
    count = 0
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise UsageError(f"{path.name} expands to more than {MAX_VALUES} values (anchors and aliases "
                             "repeated inside each other?); runyard reads no bigger guild.yml")
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                raise UsageError(f"{path.name} nests deeper than runyard reads (at most {MAX_DEPTH} levels)")
            items = node.values() if isinstance(node, dict) else node
            stack.extend((v, depth + 1) for v in items)
            if isinstance(node, dict):
                count += len(node)


@dataclass
class OpDef:
    """One operation of a guild.yml model."""

    guildfile: "Guildfile"
    model: str  # "" for the anonymous model
    name: str
    data: dict
    model_data: dict

    @property
    def display_name(self) -> str:
        """``model:op``, or ``op`` in the anonymous model (as Guild shows it)."""
        return f"{self.model}:{self.name}" if self.model else self.name

    def refuse_unsupported(self) -> None:
        """A one-line UsageError if the operation needs something runyard does not do."""
        for key, what in opdef.REFUSED_KEYS.items():
            if key in self.data:
                raise UsageError(f"{self.guildfile.path.name}: operation '{self.name}' uses '{key}': "
                                 f"{what} are not supported by runyard")

    @property
    def private(self) -> bool:
        """An operation (or model) named ``_like_this``: hidden from ``runyard ops`` unless ``--all``."""
        return self.name.startswith("_") or self.model.startswith("_")

    @property
    def description(self) -> str:
        return str(self.data.get("description") or "").strip()

    @property
    def sourcecode(self) -> Any:
        """Model-level rules, then the operation's (the last match wins)."""
        rules: list = []
        root = dest = None
        for spec in (self.model_data.get("sourcecode"), self.data.get("sourcecode")):
            if spec is None:
                continue
            if spec is False or (isinstance(spec, str) and spec.lower() in ("no", "false", "off")):
                return False
            if isinstance(spec, dict):
                root, dest = spec.get("root", root), spec.get("dest", dest)
                spec = spec.get("select", [])
            rules.extend(spec if isinstance(spec, list) else [spec])
        return {"root": root, "dest": dest, "select": rules, "guild": True}

    @property
    def source_root(self) -> Path:
        root = self.sourcecode.get("root") if isinstance(self.sourcecode, dict) else None
        base = self.guildfile.dir
        return (base / root).resolve() if root else base

    def flagdefs(self) -> dict[str, FlagDef]:
        """The flags the guild.yml defines for this operation (``$include`` resolved)."""
        raw = self.guildfile.resolve_flags(self.data.get("flags") or {}, self.model_data, f"operation {self.name}")
        return {name: flagdef(name, spec, self.display_name) for name, spec in raw.items()}


def flagdef(name: str, spec: Any, where: str) -> FlagDef:
    """A guild.yml flag: ``name: VALUE`` or ``name: {default, type, choices, ...}``."""
    if not isinstance(spec, dict):
        return FlagDef(name=name, default=spec)  # untyped, as in Guild: `gamma: 10` takes gamma=0.5
    fd = FlagDef(name=name, default=spec.get("default"))
    for key, val in spec.items():
        if key not in FLAG_KEYS:
            _warn(f"guild.yml: flag attribute '{key}' of {where}:{name} is not supported; ignored")
    t = spec.get("type")
    if t is not None:
        if t not in _TYPES:
            raise UsageError(f"guild.yml: unknown type '{t}' for flag {where}:{name}")
        fd.type = _TYPES[t]
    fd.description = str(spec.get("description") or "").strip()
    if "choices" in spec:
        choices = spec["choices"] or []
        fd.choices = [c.get("value") if isinstance(c, dict) else c for c in choices]
        if spec.get("allow-other"):
            fd.choices = None
    fd.min, fd.max = spec.get("min"), spec.get("max")
    fd.required = bool(spec.get("required"))
    if t == "existing-path":
        fd.extra["guild-existing-path"] = True
    for key in ("arg-name", "arg-switch", "arg-skip", "arg-split", "null-label", "env-name"):
        if key in spec:
            fd.extra["guild-" + key] = spec[key]
    return fd


@dataclass
class Guildfile:
    """A parsed guild.yml: models (with their operations) and config blocks."""

    path: Path
    models: dict[str, dict] = field(default_factory=dict)  # name -> resolved model data
    configs: dict[str, dict] = field(default_factory=dict)
    default_model: str | None = None

    @property
    def dir(self) -> Path:
        return self.path.parent

    @property
    def digest(self) -> str:
        """The MD5 of the file: the version field of Guild's opref."""
        return hashlib.md5(self.path.read_bytes()).hexdigest()

    def operations(self) -> list[OpDef]:
        """Every operation, model by model, in file order."""
        out = []
        for mname, m in self.models.items():
            for oname, odata in (m.get("operations") or {}).items():
                out.append(OpDef(self, mname, oname, odata, m))
        return out

    def op(self, spec: str) -> OpDef:
        """The operation ``op`` or ``model:op`` (a bare model name: its default operation)."""
        ops = self.operations()
        model, sep, name = spec.rpartition(":")
        if sep:
            found = [o for o in ops if o.model == model and o.name == name]
        else:
            found = [o for o in ops if o.name == spec]
            if len(found) > 1:
                dm = self.default_model
                pick = [o for o in found if o.model == dm] or [o for o in found if o.model == ""]
                found = pick[:1] or found
            if not found and spec in self.models:
                found = [o for o in ops if o.model == spec and o.data.get("default")] or \
                        [o for o in ops if o.model == spec][:1]
        if not found:
            names = ", ".join(opdef.quoted(o.display_name)[1:-1] for o in ops if not o.private) or "none"
            raise UsageError(f"no operation {opdef.quoted(spec)} in {self.path.name} (its operations: {names})")
        if len(found) > 1:
            raise UsageError(f"operation {opdef.quoted(spec)} is ambiguous in {self.path.name}: use "
                             + " or ".join(opdef.quoted(o.display_name)[1:-1] for o in found))
        return found[0]

    def defines(self, spec: str) -> bool:
        """True if ``spec`` names an operation of this file by its own name (``op``, ``model:op``)."""
        return any(spec in (o.name, o.display_name) for o in self.operations())

    def default_op(self) -> OpDef:
        ops = self.operations()
        marked = [o for o in ops if o.data.get("default")]
        if marked:
            return marked[0]
        if len(ops) == 1:
            return ops[0]
        raise UsageError(f"{self.path.name} has no default operation: name one (runyard ops lists them)")

    def script(self, spec: str | None):
        """The runnable :class:`runyard.lang.Script` of operation ``spec``."""
        from .op import script_of

        return script_of(self.op(spec) if spec else self.default_op())

    def resolve_flags(self, flags: dict, model: dict, where: str, seen: tuple = (),
                      memo: dict | None = None) -> dict:
        """``flags`` with ``$include`` (config blocks' or operations' flags) merged in, own flags
        last; each included block resolved once."""
        if not isinstance(flags, dict):
            raise UsageError(f"guild.yml: flags of {where} must be a mapping")
        memo = {} if memo is None else memo
        out: dict = {}
        inc = flags.get("$include")
        for ref in ([inc] if isinstance(inc, str) else inc or []):
            ref = str(ref)
            if ref in seen:
                raise UsageError(f"guild.yml: $include cycle at {opdef.quoted(ref)}")
            if ref not in memo:
                if len(memo) > MAX_EXPANSIONS:
                    raise UsageError(f"guild.yml: $include of {where} expands to more than {MAX_EXPANSIONS} blocks")
                memo[ref] = self.resolve_flags(self._include_source(ref, model), model, ref, seen + (ref,), memo)
            out.update(memo[ref])
        for k, v in flags.items():
            if k == "$include":
                continue
            if isinstance(v, dict) and isinstance(out.get(k), dict):
                v = {**out[k], **v}
            out[k] = v
        return out

    def _include_source(self, ref: str, model: dict) -> dict:
        """The flags a ``$include`` names: a config block, or an operation (``op`` / ``model:op``)."""
        if ref in self.configs:
            return self.configs[ref].get("flags") or {}
        m, sep, o = ref.rpartition(":")
        ops = (self.models.get(m) or {}).get("operations") if sep else model.get("operations")
        if ops and o in ops:
            return ops[o].get("flags") or {}
        raise UsageError(f"guild.yml: $include '{ref}' names no config or operation")


def _merge(base: dict, over: dict) -> dict:
    """Deep-merge ``over`` onto ``base`` (mappings merged, everything else replaced)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _params(obj: Any, params: dict) -> Any:
    """``{{name}}`` references replaced by the model's ``params``."""
    if isinstance(obj, str) and "{{" in obj:
        whole = re.fullmatch(r"\{\{\s*([\w-]+)\s*\}\}", obj)
        if whole and whole.group(1) in params:
            return params[whole.group(1)]
        return re.sub(r"\{\{\s*([\w-]+)\s*\}\}", lambda m: str(params.get(m.group(1), m.group(0))), obj)
    if isinstance(obj, dict):
        return {k: _params(v, params) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_params(v, params) for v in obj]
    return obj


def _items(path: Path, seen: tuple = (), budget: _Budget | None = None) -> list[dict]:
    """The top-level items of a guild.yml, ``include:`` files read in place."""
    budget = budget or _Budget(path, MAX_INCLUDES)
    budget.spend("includes")
    data = _read_yaml(path)
    if data is None:
        return []
    if isinstance(data, dict):
        return [{"model": "", "operations": data}]
    if not isinstance(data, list):
        raise UsageError(f"{path.name} must hold a mapping of operations or a list of models")
    out = []
    for item in data:
        if not isinstance(item, dict):
            raise UsageError(f"{path.name}: top-level items must be mappings, not {opdef.quoted(item)}")
        if "include" in item:
            incs = item["include"]
            for inc in [incs] if isinstance(incs, str) else incs or []:
                p = (path.parent / str(inc)).resolve()
                if p in seen:
                    raise UsageError(f"{path.name}: include cycle at {inc}")
                if not p.is_file():
                    raise UsageError(f"{path.name}: included file {inc} not found")
                out.extend(_items(p, seen + (p,), budget))
            continue
        if "package" in item:
            _warn(f"{path.name}: 'package' items are not supported (runyard does not build packages); ignored")
            continue
        out.append(item)
    return out


def load(path: Path) -> Guildfile:
    """Read a guild.yml: both formats, ``include``, ``config`` blocks, ``extends`` and ``params``."""
    path = Path(path).absolute()
    gf = Guildfile(path)
    raw_models: dict[str, dict] = {}
    for item in _items(path, (path.resolve(),)):
        if "config" in item:
            gf.configs[str(item["config"])] = item
        elif "model" in item or "operations" in item:  # `- operations:` alone: the anonymous model
            name = str(item.get("model") or "")
            raw_models[name] = item
            if item.get("default"):
                gf.default_model = name
        else:
            raise UsageError(f"{path.name}: top-level item without model or config: "
                             f"{', '.join(opdef.quoted(k) for k in list(item)[:10])}")
    blocks = {**gf.configs, **raw_models}

    budget = _Budget(path)
    done: dict[str, dict] = {}

    def resolved(name: str, seen: tuple) -> dict:
        """A block with everything it extends merged in, each block resolved once (a diamond of
        extends costs its size, not 2**depth)."""
        if name in done:
            return done[name]
        budget.spend("extends")
        item = blocks[name]
        ext = item.get("extends") or []
        base: dict = {}
        for parent in [ext] if isinstance(ext, str) else ext:
            if parent in seen:
                raise UsageError(f"{path.name}: extends cycle at '{parent}'")
            if parent not in blocks:
                raise UsageError(f"{path.name}: '{name}' extends '{parent}', which is not defined")
            base = _merge(base, resolved(str(parent), seen + (parent,)))
        own = {k: v for k, v in item.items() if k not in ("model", "config", "extends")}
        done[name] = _merge(base, own)
        return done[name]

    for name in raw_models:
        m = resolved(name, (name,))
        params = m.get("params") or {}
        m = _params(m, params)
        defaults = m.get("operation-defaults") or {}
        ops = {}
        for oname, odata in _included_ops(m.get("operations") or {}, gf, path).items():
            if odata is None:
                odata = {}
            if not isinstance(odata, dict):
                raise UsageError(f"{path.name}: operation '{oname}' must be a mapping")
            odata = _merge(defaults, odata)
            _check_keys(path.name, oname, odata)
            ops[str(oname)] = odata
        m["operations"] = ops
        gf.models[name] = m
    return gf


def _included_ops(ops: Any, gf: Guildfile, path: Path) -> dict:
    """A model's operations with ``$include: CONFIG`` (a config block's ``operations``) merged in,
    its own operations last."""
    if not isinstance(ops, dict):
        raise UsageError(f"{path.name}: operations must be a mapping of names to operations")
    inc = ops.get("$include")
    if inc is None:
        return ops
    out: dict = {}
    for ref in [inc] if isinstance(inc, str) else inc if isinstance(inc, list) else []:
        block = gf.configs.get(str(ref))
        if block is None:
            raise UsageError(f"{path.name}: operations $include {opdef.quoted(ref)} names no config")
        out.update(block.get("operations") or {})
    out.update({k: v for k, v in ops.items() if k != "$include"})
    return out


def _check_keys(fname: str, op: str, data: dict) -> None:
    """The operation model's checks (:func:`runyard.opdef.check`); refused keys refuse at run time."""
    opdef.check(data, fname, f"operation {opdef.quoted(op)}", refuse=False)


def resolve(spec: "str | Path | None"):
    """The operation ``spec`` names, as a :class:`runyard.lang.Script`: an operation of the
    guild.yml here (``op``, ``model:op``; None: its default operation) — it wins over a file of
    that name, as in Guild — else a script path."""
    from .. import lang

    gf = find(Path.cwd())
    if spec is None:
        if gf is None:
            raise UsageError("name a script to run (there is no guild.yml here with a default operation)")
        return load(gf).script(None)
    p = Path(spec)
    try:
        project = load(gf) if gf is not None else None
    except UsageError:
        if not p.is_file():
            raise
        project = None  # a script beside a broken guild.yml still runs
    if project is not None and project.defines(str(spec)):
        return project.script(str(spec))
    if p.is_file() or p.suffix.lower() in lang.suffixes():
        return lang.inspect(p)
    if project is not None:
        return project.script(str(spec))
    raise UsageError(f"script not found: {spec}")
